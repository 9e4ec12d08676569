"""Golden tests: the terminal view and the JSON envelope of one fixed report, in both languages.

Regenerate after an intended wording change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from envdoctor.model import (
    CheckReport,
    Distribution,
    Driver,
    Facts,
    Finding,
    Gpu,
    GpuFacts,
    GpuVerdict,
    LiveProbe,
    ProbeAttempt,
    Runtime,
    Severity,
    TorchBuild,
    Verdict,
    coverage_line,
    cuda_targets_line,
    driver_line,
    source_detail_line,
)
from envdoctor.report.check_data import check_envelope
from envdoctor.report.terminal import render_check

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def memo_machine_report() -> CheckReport:
    """The memo's machine: RTX 5060 Ti with the v2pro bundle's torch 2.6.0+cu124."""
    gpu = Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0), uuid="GPU-0000", memory_total_mib=16311, source="nvml")
    facts = Facts(
        gpu=GpuFacts((gpu,), Driver("576.02", "12.9", "nvml"), (ProbeAttempt("nvml", True, "1 GPU(s)"),)),
        runtime=Runtime("C:\\GPT-SoVITS\\runtime", "C:\\GPT-SoVITS\\runtime\\python.exe", "windows-embedded",
                        "windows", "3.11", ("C:\\GPT-SoVITS\\runtime\\Lib\\site-packages",)),
        torch=TorchBuild("2.6.0+cu124", "2.6.0", "cu124", "12.4", None, "abc", "9",
                         "C:\\GPT-SoVITS\\runtime\\Lib\\site-packages\\torch"),
        distributions=(Distribution("torch", "2.6.0+cu124"), Distribution("torchaudio", "2.6.0+cu124")),
        live=LiveProbe("skipped", error="a windows runtime cannot run on linux"),
        # The memo's own Windows PC (its live probe was skipped when the facts were captured on Linux):
        # the user's view, with no "whose facts" line; tests/cli/test_foreign_bundle.py has the examiner's.
        host_platform="windows",
    )
    gpu_params = {"gpu": gpu.name, "arch": "sm_120", "torch": "2.6.0+cu124"}
    findings = (
        Finding("driver-ok", Severity.OK, {"driver": "576.02", "cuda": "12.4", "torch": "2.6.0+cu124",
                                           "minimum": "551.61"}, (driver_line("576.02", "nvml"),)),
        Finding("ptx-jit-only", Severity.WARNING, dict(gpu_params, source="scan", lacking=""),
                (coverage_line("scan", "ptx-jit", "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90 | PTX sm_90"),), 0),
        Finding("nvrtc-too-old", Severity.BLOCKING, dict(gpu_params, cuda="12.4", needed="12.8"),
                (cuda_targets_line("12.4", "sm_50 ... sm_90"),), 0),
        Finding("fp16-attention-abort-risk", Severity.BLOCKING, gpu_params,
                (source_detail_line("scan", "sm_90 PTX"),), 0),
        Finding("live-skipped", Severity.OK, {"reason": "a windows runtime cannot run on linux"}),
    )
    return CheckReport(facts, findings, Verdict.WILL_FAIL, (GpuVerdict(0, Verdict.WILL_FAIL, "ptx-jit"),), "matrices")


def _terminal(lang: str, verbose: bool) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=110, color_system=None, highlight=False, soft_wrap=False)
    render_check(memo_machine_report(), lang, console, verbose=verbose)
    return buffer.getvalue()


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 once and review it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_terminal_golden(lang: str) -> None:
    _compare(f"check-memo-{lang}.txt", _terminal(lang, verbose=False))
    _compare(f"check-memo-{lang}-verbose.txt", _terminal(lang, verbose=True))


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_json_golden(lang: str) -> None:
    envelope = check_envelope(memo_machine_report(), lang)
    envelope["envdoctor_version"] = "X"  # a release must not need new goldens
    _compare(f"check-memo-{lang}.json", json.dumps(envelope, ensure_ascii=False, indent=2) + "\n")


def test_both_catalogues_hold_the_same_keys() -> None:
    # Each finding code's texts: tests/diagnose/test_every_code.py (it knows every declared code).
    from envdoctor.i18n import catalogue

    assert set(catalogue("en")) == set(catalogue("zh_CN"))
