"""`envdoctor summarize DIR` over real reports of three machines, plus files that are not reports."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from report_machine import make_machine, use_environment

from envdoctor.cli.main import main

MACHINES = (
    ("rtx5060ti-cu124", "NVIDIA GeForce RTX 5060 Ti@12.0@16311", "576.02@12.9"),
    ("rtx5060ti-cu128", "NVIDIA GeForce RTX 5060 Ti@12.0@16311", "576.02@12.9"),
    ("rtx4060-cu124", "NVIDIA GeForce RTX 4060 Ti@8.9@8188", "560.94@12.6"),
)


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    """A support inbox: two zips and one loose report.json, plus a stray JSON and a broken zip."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for number, (scenario, gpus, driver) in enumerate(MACHINES):
        machine = make_machine(tmp_path / f"m{number}", scenario=scenario)
        env = dict(machine.env, ENVDOCTOR_GPUS=gpus, ENVDOCTOR_DRIVER=driver)
        use_environment(monkeypatch, env)
        target = inbox / f"ticket-{number}" / "envdoctor-report.zip"
        assert main(["report", "--root", str(machine.root), "-o", str(target)]) == 0
    with zipfile.ZipFile(inbox / "ticket-2" / "envdoctor-report.zip") as archive:
        (inbox / "ticket-2" / "report.json").write_bytes(archive.read("report.json"))
    (inbox / "ticket-2" / "envdoctor-report.zip").unlink()
    (inbox / "other-report.json").write_text('{"schema": "something.else"}', encoding="utf-8")
    (inbox / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    capsys.readouterr()
    return inbox


def test_summarize_counts_reports_by_arch_driver_torch_finding_and_verdict(inbox: Path, capsys) -> None:
    assert main(["summarize", str(inbox), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["schema"] == "envdoctor.summarize" and summary["reports"] == 3
    assert summary["by_gpu_arch"] == [{"value": "sm_120", "count": 2}, {"value": "sm_89", "count": 1}]
    assert summary["by_driver_branch"] == [{"value": "576", "count": 2}, {"value": "560", "count": 1}]
    assert summary["by_torch_build"] == [{"value": "2.6.0+cu124", "count": 2}, {"value": "2.7.0+cu128", "count": 1}]
    findings = {item["value"]: item["count"] for item in summary["by_finding"]}
    assert findings["nvrtc-too-old"] == 1 and findings["fp16-attention-abort-risk"] == 1
    assert "driver-ok" not in findings  # OK confirmations are not problems
    assert {item["value"] for item in summary["by_verdict"]} >= {"will-fail"}
    skipped = {item["path"]: item["reason"] for item in summary["skipped"]}
    assert skipped["other-report.json"] == "not an envdoctor report"
    assert skipped["broken.zip"].startswith("BadZipFile")


def test_summarize_prints_tables(inbox: Path, capsys) -> None:
    assert main(["summarize", str(inbox), "--lang", "zh_CN"]) == 0
    out = capsys.readouterr().out
    assert "共 3 份报告" in out and "按显卡架构" in out and "sm_120" in out and "nvrtc-too-old" in out


def test_summarize_needs_a_folder(tmp_path: Path, capsys) -> None:
    assert main(["summarize", str(tmp_path / "missing")]) == 3
    assert "does not exist" in capsys.readouterr().err
