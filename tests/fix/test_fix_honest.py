"""fix says what really happened (issue 26, item 3): "Fixed" only after a real change, a passing check
and smoke tests that passed on the GPU; nothing to change, and changed-but-not-proven, are said as such;
after A what still warns is listed; C never claims that nothing will fail while something does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, demo_environ, write_bundle
from envdoctor.fix.children import Children
from envdoctor.fix.decisions import FixOptions
from envdoctor.fix.walk import FixService
from envdoctor.i18n import catalogue, message
from tests.gptsovits.trees import make_tree

FATAL_LOG = ("Traceback (most recent call last):\n  File \"GPT_SoVITS/TTS_infer_pack/TTS.py\", line 1, in run\n"
             "FATAL: this function is for sm80, but was built for sm370\n")


def fix_text(capsys: pytest.CaptureFixture, *args: str, lang: str = "en") -> str:
    main(["fix", *args, "--lang", lang])
    captured = capsys.readouterr()
    return " ".join(captured.out.split())


def test_only_the_fixed_outcome_says_fixed() -> None:
    for lang, word in (("en", "Fixed"), ("zh_CN", "已修复")):
        saying = sorted(key for key, text in catalogue(lang).items() if word in text)
        assert saying == ["fix.outcome.fixed"], (lang, saying)


@pytest.mark.slow
def test_a_twice_changes_then_says_nothing_to_change(windows_bundle: Path, capsys) -> None:
    first = fix_text(capsys, "--root", str(windows_bundle), "--no-live", "--yes", "--choose", "A")
    assert "Changed, and the check now passes. Not proven here" in first and "Fixed" not in first
    # After A: what still warns is listed (this card has PTX JIT only for the old torch).
    assert "Still worth knowing:" in first.split("Changed, and the check")[1]
    second = fix_text(capsys, "--root", str(windows_bundle), "--no-live", "--yes", "--choose", "A")
    assert "Nothing to change: these settings were already in place" in second and "Fixed" not in second
    assert "Changed" not in second
    main(["fix", "--root", str(windows_bundle), "--no-live", "--yes", "--choose", "A", "--json", "--lang", "en"])
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "unchanged" and out["changed"] is False and out["exit_code"] == 1


@pytest.mark.slow
def test_a_log_crash_on_a_ready_bundle_is_never_called_fixed(tmp_path: Path, fix_env: Path,
                                                                          monkeypatch, capsys) -> None:
    scenario = SCENARIOS["rtx4060-cu124"]
    for key, value in demo_environ(scenario).items():
        monkeypatch.setenv(key, value)
    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    write_bundle(str(root), scenario)
    (root / "webui.log").write_text(FATAL_LOG, encoding="utf-8")
    # A writes only TORCH_CUDA_ARCH_LIST here: a change, not proven, and the log's crash is still named.
    first = fix_text(capsys, "--root", str(root), "--no-live", "--yes", "--choose", "A")
    assert "Fixed" not in first and "Not proven here" in first, first
    assert "In the latest WebUI log:" in first.split("Still worth knowing:")[1]
    again = fix_text(capsys, "--root", str(root), "--no-live", "--yes", "--choose", "A")
    assert "Fixed" not in again and "Nothing to change" in again, again
    # C does not say "nothing is predicted to fail" while the log shows a failure.
    main(["fix", "--root", str(root), "--no-live", "--json", "--lang", "en"])
    out = json.loads(capsys.readouterr().out)
    c = [choice for choice in out["choices"] if choice["key"] == "C"][0]
    assert message("en", "fix.c.nothing_fails") not in c["costs"]
    assert any("The latest WebUI log shows a failure" in cost for cost in c["costs"])


class _GpuProves(FixService):
    """The GPU's smoke tests (the hardware edge) stand in as passed, on a bundle whose check is real."""

    def prove(self, diagnosis):  # type: ignore[no-untyped-def]
        return True


def test_fixed_needs_a_change_a_passing_check_and_a_proof(windows_bundle: Path) -> None:
    def run(service_class):  # type: ignore[no-untyped-def]
        options = FixOptions(root=str(windows_bundle), lang="en", choose="A", yes=True, live=False)
        service = service_class(options, lambda key, **p: message("en", key, **p), Children("en"))
        return service.run(lambda plan: "A")

    proven = run(_GpuProves)
    assert proven.status == "fixed" and proven.changed and proven.proven is True
    again = run(_GpuProves)  # the proof passes again, but nothing was changed this time
    assert again.status == "unchanged" and again.changed is False


@pytest.mark.slow
def test_a_failed_b_says_why_in_text_and_in_the_report(posix_bundle: Path, fix_wheels: dict, capsys) -> None:
    """Issue 23 item 4: the reason of a failed B is shown in text mode (not only in --json), and the
    support report written after it has an upgrade section with that reason and the transaction log."""
    import zipfile

    reports = posix_bundle.parent / "reports-out"
    reports.mkdir()
    text = fix_text(capsys, "--root", str(posix_bundle), "--yes", "--choose", "B", "--wheelhouse",
                    fix_wheels["houses"]["broken"], "--report-dir", str(reports))
    assert "The change could not be made; nothing was changed." in text
    why = text.split("Why: ", 1)[1]
    assert "libcudnn missing (test fixture)" in why, text
    report = sorted(reports.glob("*.zip"))[-1]
    with zipfile.ZipFile(report) as archive:
        data = json.loads(archive.read("report.json"))
        upgrade = data["report"]["upgrade"]
        assert upgrade["attempt"]["exit_code"] == 2 and "libcudnn missing" in upgrade["attempt"]["reason"]
        assert upgrade["log"] in archive.namelist()
        assert "Transaction log" in archive.read("report.md").decode("utf-8")


@pytest.mark.slow
def test_reports_go_into_one_folder_that_keeps_the_newest_few(windows_bundle: Path, capsys) -> None:
    from envdoctor.fix.walk import KEEP_REPORTS, REPORTS_FOLDER

    folder = windows_bundle / REPORTS_FOLDER
    folder.mkdir()
    for second in range(KEEP_REPORTS + 2):  # older reports of earlier runs
        (folder / f"envdoctor-report-20200101-0000{second:02d}.zip").write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    main(["fix", "--root", str(windows_bundle), "--no-live", "--yes", "--choose", "C", "--json", "--lang", "en"])
    out = json.loads(capsys.readouterr().out)
    assert Path(out["report"]).parent == folder
    zips = sorted(p.name for p in folder.glob("envdoctor-report-*.zip"))
    assert len(zips) == KEEP_REPORTS and Path(out["report"]).name in zips
    assert (folder / "notes.txt").exists()
    assert not list(windows_bundle.glob("envdoctor-report-*.zip"))  # none beside go-webui.bat
