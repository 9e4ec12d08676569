"""doctor and explain as `envdoctor report` calls them (envdoctor/support/seams.py)."""

from __future__ import annotations

import json
from pathlib import Path

from envdoctor.check.pipeline import run_check
from envdoctor.probes.collect import CollectOptions
from envdoctor.support import seams

from .fake_runtime import FATAL_SM


def test_doctor_section_for_the_report(fake_python: Path, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"fail": {"sdpa-efficient": "abort"}}))
    options = CollectOptions(python=str(fake_python))
    section = seams.doctor_section(run_check(options), options, "zh_CN")
    assert section["available"] is True and section["verdict"] == "will-fail"
    smoke = {s["name"]: s for s in section["smoke"]}
    assert smoke["sdpa-efficient"]["status"] == "crashed"
    assert smoke["sdpa-efficient"]["summary"].startswith("崩溃 (SIGABRT)")
    assert FATAL_SM in smoke["sdpa-efficient"]["summary"]  # the line the finding quotes, not the first one
    assert FATAL_SM in smoke["sdpa-efficient"]["output"]
    assert smoke["cuda"]["status"] == "passed"
    assert "smoke-sdpa-efficient-crashed" in [f["code"] for f in section["findings"]]
    assert section["recommendation"]["fp16"]["value"] is False


def test_explain_for_the_report() -> None:
    reading = seams.explain_text("xx\nnvrtc: error: invalid value for --gpu-architecture (-arch)\n", "en")
    assert reading["by"] == "explain" and reading["code"] == "nvrtc-invalid-arch" and reading["line"] == 2
    assert seams.explain_text("nothing to see", "en") is None


def test_report_doctor_names_each_smoke_test_as_it_runs(fake_python: Path, monkeypatch) -> None:
    """`report --doctor`'s step line follows the real session: which test runs, on which GPU, how many are done."""
    from rich.progress import Progress

    from envdoctor.cli.report import _SmokeLine
    from envdoctor.cli.ui import Ui
    from envdoctor.support.gather import ReportOptions, gather

    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 4060@8.9")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.delenv("ENVDOCTOR_FAKE_TORCH", raising=False)
    progress = Progress()  # not started: nothing is drawn, the task's text is read back below
    task = progress.add_task("", total=None)
    line = _SmokeLine(progress, task, Ui(lang="zh_CN"))
    seen = []

    def watch(event) -> None:
        line(event)
        if event.kind == "start":
            seen.append(progress.tasks[0].description)

    document = gather(ReportOptions(collect=CollectOptions(python=str(fake_python)), doctor=True), "zh_CN",
                      smoke_progress=watch)
    smoke = document.envelope["report"]["doctor"]["smoke"]
    ran = [s for s in smoke if s["status"] != "skipped"]
    assert len(seen) == len(ran) >= 5
    total = line.total
    assert seen[0] == f"正在实测：在 GPU 0 上运行 {ran[0]['test']}（已完成 0/{total}）……"
    assert f"运行 {ran[-1]['test']}（已完成 {len(seen) - 1}/{total}）" in seen[-1]
    assert line.done == total == len(smoke)
