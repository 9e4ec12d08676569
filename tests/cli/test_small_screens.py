"""Small things a user meets (issue 26, item 7): rollback with nothing kept says so in words (no literal
"{known}"), -y is accepted where upgrade takes it, report --from keeps the evidence of an unpacked
report, and a simulated GPU is marked as simulated in check's output and in the report."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, demo_environ, write_bundle


@pytest.mark.parametrize("extra", [(), ("--to", "abc"), ("-y",), ("--yes", "--to", "abc")])
def test_rollback_with_nothing_kept_says_so(tmp_path: Path, capsys, extra: tuple) -> None:
    code = main(["rollback", "--root", str(tmp_path), "--lang", "en", *extra])
    out = capsys.readouterr()
    text = " ".join((out.out + out.err).split())
    assert code == 3
    assert "{" not in text and "Nothing to roll back: no upgrade has replaced the runtime" in text, text
    assert not (tmp_path / ".envdoctor").exists()  # nothing created


def test_recover_accepts_y(tmp_path: Path, capsys) -> None:
    code = main(["recover", "--root", str(tmp_path), "-y", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out.get("error", {}).get("key") != "error.bad_arguments" and code in (0, 3)


@pytest.fixture
def simulated_bundle(tmp_path: Path, monkeypatch) -> Path:
    scenario = SCENARIOS["rtx5060ti-v2pro"]
    for key, value in demo_environ(scenario).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    monkeypatch.setenv("COLUMNS", "200")
    root = tmp_path / "bundle"
    root.mkdir()
    write_bundle(str(root), scenario)
    return root


def test_a_simulated_gpu_is_marked_in_check_and_in_the_report(simulated_bundle: Path, capsys) -> None:
    main(["check", "--root", str(simulated_bundle), "--no-live", "--lang", "en"])
    text = " ".join(capsys.readouterr().out.split())
    assert "SIMULATED by ENVDOCTOR_GPUS / ENVDOCTOR_DRIVER, not detected" in text
    main(["check", "--root", str(simulated_bundle), "--no-live", "--lang", "zh_CN"])
    assert "模拟：由 ENVDOCTOR_GPUS" in capsys.readouterr().out
    output = simulated_bundle / "r.zip"
    assert main(["report", "--root", str(simulated_bundle), "--no-live", "-o", str(output)]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(output) as archive:
        assert "SIMULATED by ENVDOCTOR\\_GPUS" in archive.read("report.md").decode("utf-8")  # markdown-escaped


def test_report_from_an_unpacked_report_json_keeps_its_evidence(simulated_bundle: Path, tmp_path: Path,
                                                                capsys) -> None:
    first = tmp_path / "a.zip"
    assert main(["report", "--root", str(simulated_bundle), "--no-live", "-o", str(first)]) == 0
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(first) as archive:
        evidence = sorted(n for n in archive.namelist() if n.startswith("evidence/"))
        archive.extractall(unpacked)
    assert evidence
    again = tmp_path / "b.zip"
    assert main(["report", "--from", str(unpacked / "report.json"), "--lang", "zh_CN", "-o", str(again)]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(again) as archive:
        assert sorted(n for n in archive.namelist() if n.startswith("evidence/")) == evidence
    os.remove(unpacked / evidence[0])  # report.json without one of its files: the rest is kept
    assert main(["report", "--from", str(unpacked / "report.json"), "-o", str(tmp_path / "c.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "c.zip") as archive:
        assert sorted(n for n in archive.namelist() if n.startswith("evidence/")) == evidence[1:]


def test_a_simulated_gpu_is_marked_for_a_runtime_of_this_os(tmp_path: Path, monkeypatch, capsys) -> None:
    import sys

    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0@16311")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    monkeypatch.setenv("COLUMNS", "200")
    main(["check", "--python", sys.executable, "--no-live", "--lang", "en"])  # this OS: nothing foreign
    captured = capsys.readouterr()
    text = " ".join(captured.out.split())
    assert "SIMULATED by ENVDOCTOR_GPUS / ENVDOCTOR_DRIVER, not detected" in text, captured.err
