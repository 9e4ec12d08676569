"""A Windows bundle examined on Linux (a support engineer, WSL): this machine's GPU and driver are not
the bundle user's. They are left out unless given (--assume-gpu/--assume-driver) or taken from the
user's report (--facts-from); the output says whose facts are whose; fixes are for the user's machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, write_bundle

FIVE_SIXTY = "NVIDIA GeForce RTX 5060 Ti@12.0"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "GPT-SoVITS"
    write_bundle(str(root), SCENARIOS["rtx5060ti-cu124"])  # runtime/python.exe + Lib/site-packages
    return root


def _check(capsys, *args: str) -> tuple:
    code = main(["check", "--no-live", *args])
    return code, capsys.readouterr().out


def test_this_machines_gpu_is_left_out(bundle: Path, capsys, monkeypatch) -> None:
    from envdoctor.probes import gpus

    monkeypatch.setenv("COLUMNS", "250")
    def no_probing() -> list:
        raise AssertionError("this machine's GPU was asked about a foreign bundle")

    monkeypatch.setattr(gpus, "default_sources", no_probing)
    code, out = _check(capsys, "--root", str(bundle), "--json")
    envelope = json.loads(out)
    assert code == 1 and envelope["facts"]["gpu_origin"] == "unknown" and envelope["gpus"] == []
    codes = [f["code"] for f in envelope["findings"]]
    assert "bundle-machine-unknown" in codes and "no-nvidia-gpu" not in codes
    code, out = _check(capsys, "--root", str(bundle))
    assert "Whose facts" in out and "this windows bundle's files" in out and "not this machine's" in out


def test_whose_facts_is_said_from_its_keys_not_parsed_back(bundle: Path, capsys, monkeypatch) -> None:
    """The probe's attempt is data in --json (a line within a line), and the Chinese text is drawn from
    those keys: with the reader of English shapes switched off it still reads in Chinese."""
    from envdoctor.i18n import lines

    code, out = _check(capsys, "--root", str(bundle), "--json")
    finding = next(f for f in json.loads(out)["findings"] if f["code"] == "bundle-machine-unknown")
    assert finding["evidence_lines"] == [{"key": "line.probe_attempt", "params": {
        "source": "bundle-machine",
        "detail": {"key": "line.bundle_machine", "params": {"platform": "windows", "host": "linux"}}}}]
    monkeypatch.setattr(lines, "_SHAPES", [])
    monkeypatch.setenv("COLUMNS", "250")
    code, out = _check(capsys, "--root", str(bundle), "-v", "--lang", "zh_CN")
    assert "在 linux 上检查 windows 整合包：本机的显卡不是使用者的" in out
    assert "examined on" not in out


def test_given_gpu_and_driver_are_judged_and_fixes_are_for_the_users_machine(bundle: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one line per fact: the assertions read whole phrases
    code, out = _check(capsys, "--root", str(bundle), "--json", "--assume-gpu", FIVE_SIXTY,
                       "--assume-driver", "576.02@12.9")
    envelope = json.loads(out)
    assert code == 2 and envelope["facts"]["gpu_origin"] == "given"
    assert envelope["gpus"][0]["name"] == "NVIDIA GeForce RTX 5060 Ti"
    fixes = [f["fix"] for f in envelope["findings"] if f["fix"]]
    assert fixes and all(fix.startswith("On the machine that runs this windows bundle: ") for fix in fixes)
    code, out = _check(capsys, "--root", str(bundle), "--lang", "zh_CN", "--assume-gpu", FIVE_SIXTY,
                       "--assume-driver", "576.02@12.9")
    assert "信息来源" in out and "由 --assume-gpu / --assume-driver 指定" in out and "请在运行这个 windows" in out


def test_gpu_and_driver_from_the_users_report(bundle: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    # The user's machine: its GPU as ENVDOCTOR_GPUS (the hardware edge), its report zip as the user sends it.
    monkeypatch.setenv("ENVDOCTOR_GPUS", FIVE_SIXTY)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    report_zip = tmp_path / "report.zip"
    assert main(["report", "--root", str(bundle), "--no-live", "-o", str(report_zip)]) in (0, 1, 2)
    capsys.readouterr()
    monkeypatch.delenv("ENVDOCTOR_GPUS")
    monkeypatch.delenv("ENVDOCTOR_DRIVER")
    code, out = _check(capsys, "--root", str(bundle), "--json", "--facts-from", str(report_zip))
    envelope = json.loads(out)
    assert code == 2 and envelope["facts"]["gpu_origin"] == "report"
    assert [g["name"] for g in envelope["gpus"]] == ["NVIDIA GeForce RTX 5060 Ti"]
    assert envelope["facts"]["gpu"]["driver"]["version"] == "576.02"


def test_an_unreadable_report_is_a_clear_error(bundle: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "report.json"
    bad.write_text("{not json")
    code, out = _check(capsys, "--root", str(bundle), "--json", "--facts-from", str(bad))
    assert code == 3 and json.loads(out)["error"]["key"] == "error.facts_from"


@pytest.mark.parametrize("gpu, driver, field", [
    ({"index": 0, "name": "NVIDIA GeForce RTX 4060", "compute_capability": "ab"}, None, "compute_capability"),
    ({"index": "0", "name": "NVIDIA GeForce RTX 4060", "compute_capability": [8, 9]}, None, "index"),
    ({"index": 0, "name": "NVIDIA GeForce RTX 4060", "compute_capability": [8, 9]}, {"version": 7}, "driver.version"),
    ({"index": 0, "name": "NVIDIA GeForce RTX 4060", "compute_capability": [8, 9]},
     {"version": "576.02", "cuda_version": "new"}, "driver.cuda_version"),
])
def test_a_report_with_facts_of_the_wrong_type_is_refused_not_judged(bundle: Path, tmp_path: Path, capsys,
                                                                      gpu: dict, driver, field: str) -> None:
    """An edited report.json must not become a made-up GPU ("sm_ab") that a verdict then blocks on."""
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({"schema": "envdoctor.report", "facts": {"gpu": {"gpus": [gpu], "driver": driver}}}))
    code, out = _check(capsys, "--root", str(bundle), "--json", "--facts-from", str(bad))
    error = json.loads(out)["error"]
    assert code == 3 and error["key"] == "error.facts_from" and field in error["message"], error


def test_a_windows_bundle_of_unknown_python_says_so_in_words(bundle: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    for name in os.listdir(bundle / "runtime"):
        if name.lower().endswith(".dll"):
            (bundle / "runtime" / name).unlink()
    _code, out = _check(capsys, "--root", str(bundle), "--assume-gpu", FIVE_SIXTY, "--assume-driver", "576.02@12.9")
    assert "Python ?" not in out and ("Python version unknown" in out or "Python 3." in out)


def test_the_report_keeps_this_machines_gpu_out_and_says_whose_facts(bundle: Path, tmp_path: Path, capsys,
                                                                     monkeypatch) -> None:
    import stat
    import zipfile

    # This machine has a GPU (a stand-in nvidia-smi at the hardware edge): it must not enter the user's report.
    tools = tmp_path / "bin"
    tools.mkdir()
    smi = tools / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'Product Name : NVIDIA H100 80GB HBM3'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    output = tmp_path / "report.zip"
    assert main(["report", "--root", str(bundle), "--no-live", "--assume-gpu", FIVE_SIXTY, "--assume-driver",
                 "576.02@12.9", "-o", str(output)]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        markdown = archive.read("report.md").decode("utf-8")
    assert "evidence/nvidia-smi-q.txt" not in names and "H100" not in markdown
    assert "This machine's operating system (not the bundle's)" in markdown
    assert "GPU and driver: SIMULATED: given with --assume-gpu / --assume-driver, not detected" in markdown
    assert "On the machine that runs this windows bundle: " in markdown
