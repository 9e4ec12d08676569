"""`envdoctor fix` end to end: real child processes, real configure/upgrade/rollback/report transactions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.fix.children import Children
from envdoctor.fix.decisions import FixOptions
from envdoctor.fix.walk import FixService
from envdoctor.i18n import message
from tests.fix.conftest import torch_version
from tests.gptsovits.trees import snapshot


def fix(capsys: pytest.CaptureFixture, *args: str) -> dict:
    code = main(["fix", *args, "--json", "--lang", "en"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def check_code(root: Path, *extra: str) -> int:
    return subprocess.run([sys.executable, "-m", "envdoctor", "check", "--root", str(root), "--json", *extra],
                          capture_output=True).returncode


def test_without_consent_fix_only_plans(windows_bundle: Path, capsys):
    before = snapshot(windows_bundle)
    out = fix(capsys, "--root", str(windows_bundle), "--no-live")
    assert out["status"] == "planned" and out["exit_code"] == 2 and out["chosen"] is None
    assert out["recommended"] == "A"
    assert {c["key"]: c["available"] for c in out["choices"]} == {"A": True, "B": False, "C": True}
    assert "windows runtime" in [c for c in out["choices"] if c["key"] == "B"][0]["reason"]
    assert snapshot(windows_bundle) == before


def test_choice_a_writes_the_workarounds_and_the_check_then_passes(windows_bundle: Path, capsys):
    assert check_code(windows_bundle, "--no-live") == 2
    out = fix(capsys, "--root", str(windows_bundle), "--no-live", "--yes", "--choose", "A")
    assert out["status"] == "changed-unproven", out  # a simulated GPU: changed, not proven
    assert out["exit_code"] == 1  # PTX JIT only stays a warning: it runs
    assert out["proven"] is None  # a simulated GPU: no smoke test could prove it
    assert [s["name"] for s in out["steps"]][:3] == ["check", "configure-preview", "upgrade-plan"]
    assert "configure" in [s["name"] for s in out["steps"]]
    assert out["final"]["exit_code"] == 1 and not out["final"]["blocking"]
    assert check_code(windows_bundle, "--no-live") == 1
    assert "GPT_SOVITS_SV_MODE" in (windows_bundle / "go-webui.bat").read_bytes().decode("gbk")


@pytest.mark.slow
def test_choice_c_changes_nothing_and_leaves_a_report(windows_bundle: Path, capsys):
    before = snapshot(windows_bundle)
    reports = windows_bundle.parent / "reports"
    reports.mkdir()
    out = fix(capsys, "--root", str(windows_bundle), "--no-live", "--yes", "--choose", "C",
              "--report-dir", str(reports))
    assert out["status"] == "left" and out["exit_code"] == 2
    assert out["report"] and os.path.dirname(out["report"]) == str(reports)
    with zipfile.ZipFile(out["report"]) as archive:
        assert "report.json" in archive.namelist()
    assert snapshot(windows_bundle) == before


def test_choice_b_upgrades_from_a_wheelhouse(posix_bundle: Path, fix_wheels: dict, capsys):
    assert torch_version(posix_bundle) == "2.6.0+cu124"
    out = fix(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B",
              "--wheelhouse", fix_wheels["houses"]["new"])
    assert out["status"] == "changed-unproven", json.dumps(out["steps"], indent=1)
    b = [c for c in out["choices"] if c["key"] == "B"][0]
    assert b["available"] and b["details"]["target"] == "2.7.0+cu128"
    assert message("en", "fix.b.costs_offline") in b["costs"]
    assert torch_version(posix_bundle) == "2.7.0+cu128"
    assert out["final"]["exit_code"] in (0, 1)


def test_recommendation_is_b_when_workarounds_cannot_help(posix_bundle: Path, fix_wheels: dict, capsys):
    out = fix(capsys, "--root", str(posix_bundle), "--wheelhouse", fix_wheels["houses"]["new"])
    assert out["status"] == "planned"
    assert out["recommended"] == "B"
    assert not [c for c in out["choices"] if c["key"] == "A"][0]["resolves"]


@pytest.mark.slow
def test_a_candidate_that_fails_verification_changes_nothing_and_writes_a_report(posix_bundle: Path,
                                                                                fix_wheels: dict, capsys):
    out = fix(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B",
              "--wheelhouse", fix_wheels["houses"]["broken"])
    assert out["status"] == "failed" and out["exit_code"] == 2
    assert torch_version(posix_bundle) == "2.6.0+cu124"
    assert out["report"] and zipfile.is_zipfile(out["report"])


class _FailingProof(FixService):
    """The GPU smoke tests fail after the upgrade (what doctor would say on a real card)."""

    def prove(self, diagnosis):
        return False


@pytest.mark.slow
def test_a_fix_the_gpu_disproves_is_rolled_back_automatically(posix_bundle: Path, fix_wheels: dict):
    options = FixOptions(root=str(posix_bundle), lang="en", yes=True, wheelhouse=fix_wheels["houses"]["new"])
    service = _FailingProof(options, lambda key, **p: message("en", key, **p), Children("en"))
    outcome = service.run(lambda plan: "B")
    assert outcome.status == "failed-rolled-back" and outcome.exit_code == 2
    names = [s.name for s in outcome.steps]
    assert names.index("upgrade") < names.index("rollback") < names.index("report")
    assert [s.exit_code for s in outcome.steps if s.name == "rollback"] == [0]
    assert torch_version(posix_bundle) == "2.6.0+cu124"
    assert outcome.report_path and zipfile.is_zipfile(outcome.report_path)


def test_a_zip_fix_pack_is_unpacked_inside_the_cache_only(tmp_path: Path, fix_env: Path, fix_wheels: dict):
    from envdoctor.fix.fixpack import wheel_folder

    pack = tmp_path / "fixpack.zip"
    house = fix_wheels["houses"]["new"]
    with zipfile.ZipFile(pack, "w") as archive:
        for name in os.listdir(house):
            archive.write(os.path.join(house, name), "wheels/" + name)
        archive.writestr("../../escape.whl", b"not here")
        archive.writestr("README.txt", b"ignored")
    folder = wheel_folder(str(pack))
    assert folder.startswith(str(fix_env / "cache"))
    assert sorted(os.listdir(folder)) == sorted(os.listdir(house) + ["escape.whl"])
    assert not (tmp_path.parent / "escape.whl").exists()
    assert wheel_folder(str(pack)) == folder  # the second run reuses the unpacked pack


def test_a_bad_fix_pack_is_a_clear_error(tmp_path: Path, fix_env: Path, capsys):
    bad = tmp_path / "pack.zip"
    bad.write_bytes(b"not a zip")
    code = main(["fix", "--root", str(tmp_path), "--wheelhouse", str(bad), "--lang", "zh_CN"])
    assert code == 3
    assert "修复包" in capsys.readouterr().err


def test_fix_launchers_for_the_windows_bundle(windows_bundle: Path, capsys):
    assert main(["fix", "--root", str(windows_bundle), "--write-launchers", "--lang", "en"]) == 0
    bat = (windows_bundle / "fix-env.bat").read_bytes()
    ps1 = (windows_bundle / "fix-env.ps1").read_bytes()
    assert b"\r\n" in bat and b"\n" not in bat.replace(b"\r\n", b"")
    assert b"runtime\\python.exe envdoctor.pyz fix" in bat
    assert ps1.startswith(b"\xef\xbb\xbf") and "按回车键关闭" in ps1.decode("utf-8-sig")
    umask = os.umask(0)
    os.umask(umask)
    for name in ("fix-env.bat", "fix-env.ps1"):  # as any file the user makes there, not -rw------- (mkstemp's)
        assert (windows_bundle / name).stat().st_mode & 0o777 == 0o666 & ~umask
    (windows_bundle / "fix-env.bat").write_bytes(b"mine")
    main(["fix", "--root", str(windows_bundle), "--write-launchers", "--lang", "en"])
    assert (windows_bundle / "fix-env.bat").read_bytes() == b"mine"  # never overwritten


@pytest.mark.slow
def test_choice_b_from_a_named_mirror_records_it(posix_bundle: Path, loopback_mirrors, capsys):
    """--mirror for scripts: the flat page serves the wheels; PyTorch's own index (unreachable) is never used."""
    out = fix(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B", "--mirror", "loop-flat")
    assert out["status"] == "changed-unproven", json.dumps(out["steps"], indent=1)
    assert out["mirror"] == "loop-flat"
    assert torch_version(posix_bundle) == "2.7.0+cu128"
    assert set(loopback_mirrors.variants_asked) == {"cu128"}


def test_without_a_source_b_stays_open_when_the_index_does_not_answer(posix_bundle: Path, loopback_mirrors,
                                                                     capsys):
    out = fix(capsys, "--root", str(posix_bundle))
    assert out["status"] == "planned" and out["mirror"] is None
    b = [c for c in out["choices"] if c["key"] == "B"][0]
    assert b["available"], b
    assert any("could not be reached" in cost for cost in b["costs"]), b["costs"]
    assert loopback_mirrors.requests == []  # no mirror is used unless chosen


def test_bad_mirror_input_is_refused_before_anything_runs(posix_bundle: Path, loopback_mirrors, fix_wheels: dict,
                                                          capsys):
    before = snapshot(posix_bundle)
    out = fix(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B", "--mirror", "nowhere")
    assert out["exit_code"] == 3 and out["error"]["key"] == "upgrade.error.unknown_mirror"
    out = fix(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B", "--mirror", "loop-flat",
              "--wheelhouse", fix_wheels["houses"]["new"])
    assert out["exit_code"] == 3 and out["error"]["key"] == "upgrade.error.mirror_conflict"
    assert snapshot(posix_bundle) == before


@pytest.mark.slow
def test_choice_b_from_a_zip_pack_unpacks_it_only_then(posix_bundle: Path, fix_env: Path, fix_wheels: dict,
                                                       capsys):
    pack = fix_env / "fixpack.zip"
    house = fix_wheels["houses"]["new"]
    with zipfile.ZipFile(pack, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in os.listdir(house):
            archive.write(os.path.join(house, name), "wheels/" + name)
    out = fix(capsys, "--root", str(posix_bundle), "--wheelhouse", str(pack))
    assert out["recommended"] == "B" and not (fix_env / "cache" / "fixpacks").exists()
    out = fix(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B", "--wheelhouse", str(pack))
    # changed and checked, not proven on a GPU (simulated here): "changed-unproven", never "fixed"
    assert out["status"] == "changed-unproven", json.dumps(out["steps"], indent=1)
    assert torch_version(posix_bundle) == "2.7.0+cu128"
    assert len(os.listdir(fix_env / "cache" / "fixpacks")) == 1
