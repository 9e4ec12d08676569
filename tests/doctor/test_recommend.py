"""The recommendation as a pure function, and smoke findings / reconciliation with check."""

from __future__ import annotations

from typing import Optional, Sequence

import pytest

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import TEST_NAMES
from envdoctor.doctor.findings import reconcile, smoke_findings
from envdoctor.doctor.recommend import recommend
from envdoctor.i18n import has_message
from envdoctor.model import Driver, Facts, Finding, Gpu, GpuFacts, Runtime, Severity, TorchBuild

RTX5060 = Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0), source="nvml")
RTX3060 = Gpu(1, "NVIDIA GeForce RTX 3060", (8, 6), source="nvml")
GTX1660 = Gpu(0, "NVIDIA GeForce GTX 1660 SUPER", (7, 5), source="nvml")


def _torch(version: str = "2.6.0+cu124", cuda: Optional[str] = "12.4") -> TorchBuild:
    release, _, local = version.partition("+")
    return TorchBuild(version, release, local or None, cuda, None, None, None, "/rt/torch")


def _facts(gpus: Sequence[Gpu] = (RTX5060,), torch: Optional[TorchBuild] = None) -> Facts:
    runtime = Runtime("/rt", "/rt/bin/python", "posix-prefix", "linux", "3.11", ())
    return Facts(GpuFacts(tuple(gpus), Driver("576.02", "12.9") if gpus else None), runtime,
                 torch if torch is not None else _torch())


def _r(test: str, status: str, gpu: Optional[int] = 0, **kw) -> m.SmokeResult:
    return m.SmokeResult(test, gpu, status, duration_s=1.0, **kw)


def _all(status_by_test: dict, gpu: Optional[int] = 0, default: str = m.PASSED) -> list:
    out = []
    for name in TEST_NAMES:
        if name in ("extension",):
            continue
        out.append(_r(name, status_by_test.get(name, default), gpu,
                      **({"details": {"cpu_ok": True}} if name.startswith("fft") else {})))
    return out


PREDICTIONS = [
    Finding("ptx-jit-only", Severity.WARNING, {"gpu": RTX5060.name, "arch": "sm_120"}, ("matrix: ptx-jit",), 0),
    Finding("fp16-attention-abort-risk", Severity.BLOCKING, {"gpu": RTX5060.name, "arch": "sm_120"}, ("m",), 0),
    Finding("nvrtc-too-old", Severity.BLOCKING, {"gpu": RTX5060.name, "arch": "sm_120"}, ("CUDA 12.4",), 0),
]


def test_the_memo_machine_turns_fp16_off_moves_sv_to_cpu_and_needs_an_upgrade() -> None:
    results = _all({"sdpa-efficient": m.CRASHED, "fft-fp32": m.FAILED, "fft-fp16": m.FAILED})
    rec = recommend(_facts(), results, PREDICTIONS)
    assert rec.fp16.value is False and rec.fp16.source == "smoke"
    assert rec.fp16.reason == "recommend.fp16.smoke_broke" and "sdpa-efficient" in rec.fp16.params["tests"]
    assert rec.v2pro_sv.value == "cpu" and rec.v2pro_sv.source == "smoke"
    assert rec.arch_list.value == "12.0" and rec.arch_list.source == "facts"
    assert rec.upgrade_needed.value is True and rec.upgrade_needed.source == "smoke"


def test_passing_tests_beat_the_prediction() -> None:
    results = _all({})
    rec = recommend(_facts(), results, PREDICTIONS)
    assert rec.fp16.value is True and rec.fp16.source == "smoke"
    assert rec.v2pro_sv.value == "on" and rec.v2pro_sv.source == "smoke"
    assert rec.upgrade_needed.value is False and rec.upgrade_needed.source == "smoke"
    reconciled = reconcile(PREDICTIONS, results)
    codes = [f.code for f in reconciled]
    assert "fp16-attention-abort-risk" not in codes and "nvrtc-too-old" not in codes
    assert codes.count("prediction-disproved") == 2 and "ptx-jit-only" in codes
    assert all(f.severity is Severity.OK for f in reconciled if f.code == "prediction-disproved")


def test_when_tests_cannot_run_the_prediction_decides() -> None:
    results = _all({"sdpa-efficient": m.TIMEOUT, "sdpa-default": m.SKIPPED, "matmul-fp16": m.SKIPPED,
                    "conv1d-fp16": m.SKIPPED, "fft-fp32": m.TIMEOUT, "fft-fp16": m.SKIPPED})
    rec = recommend(_facts(), results, PREDICTIONS)
    assert rec.fp16.value is False and rec.fp16.source == "prediction"
    assert any("sdpa-efficient: timeout" in line for line in rec.fp16.evidence)
    assert rec.v2pro_sv.value == "cpu" and rec.v2pro_sv.source == "prediction"
    assert rec.upgrade_needed.value is True and rec.upgrade_needed.source == "prediction"
    # A timeout neither proves nor disproves: the prediction stays, the test is noted as evidence.
    assert [f.code for f in reconcile(PREDICTIONS, results)] == [f.code for f in PREDICTIONS]


def test_no_test_and_no_prediction_falls_back_to_gpt_sovits_defaults() -> None:
    rec = recommend(_facts(), [], [])
    assert rec.fp16.value is True and rec.fp16.source == "default"
    assert rec.v2pro_sv.value == "on" and rec.v2pro_sv.source == "default"
    assert rec.upgrade_needed.value is False and rec.upgrade_needed.source == "default"
    old = recommend(_facts([Gpu(0, "NVIDIA GeForce GTX 1080", (6, 1))]), [], [])
    assert old.fp16.value is False and old.fp16.reason == "recommend.fp16.old_gpu"
    assert recommend(_facts([GTX1660]), [], []).fp16.value is False


def test_sv_off_when_the_cpu_path_fails_too() -> None:
    results = _all({})
    results = [r if r.test != "fft-fp32" else _r("fft-fp32", m.FAILED, details={"cpu_ok": False}) for r in results]
    assert recommend(_facts(), results, []).v2pro_sv.value == "off"


def test_fp16_fft_failure_moves_sv_to_cpu_only_while_fp16_stays_on() -> None:
    results = _all({"fft-fp16": m.FAILED})
    rec = recommend(_facts(), results, [])
    assert rec.fp16.value is True and rec.v2pro_sv.value == "cpu"
    results = _all({"fft-fp16": m.FAILED, "matmul-fp16": m.FAILED})
    rec = recommend(_facts(), results, [])
    assert rec.fp16.value is False and rec.v2pro_sv.value == "on"  # fp32 fbank is what will run


def test_no_usable_cuda() -> None:
    cpu = recommend(_facts(torch=_torch("2.13.0+cpu", None)), [], [])
    assert (cpu.fp16.value, cpu.v2pro_sv.value, cpu.upgrade_needed.value) == (False, "on", True)
    assert cpu.fp16.source == "facts" and cpu.upgrade_needed.reason == "recommend.upgrade.cpu_torch"
    none = recommend(_facts(gpus=()), [_r("cuda", m.SKIPPED, None, reason="no-cuda")], [])
    assert (none.fp16.value, none.upgrade_needed.value, none.arch_list.value) == (False, False, None)
    failed = recommend(_facts(), [_r("cuda", m.FAILED, error="RuntimeError: driver too old")], [])
    assert failed.fp16.value is False and failed.fp16.reason == "recommend.fp16.cuda_unusable"
    assert failed.upgrade_needed.value is True


def test_several_gpus_take_the_careful_value_and_list_every_arch() -> None:
    results = _all({}, gpu=1) + _all({"sdpa-efficient": m.CRASHED, "fft-fp32": m.FAILED}, gpu=0)
    rec = recommend(_facts([RTX5060, RTX3060]), results, [])
    assert rec.fp16.value is False and "GPU 0" in rec.fp16.params["gpu"]
    assert rec.v2pro_sv.value == "cpu"
    assert rec.arch_list.value == "8.6;12.0"


def test_arch_list_from_torch_when_the_driver_gave_none() -> None:
    facts = _facts(gpus=())
    rec = recommend(facts, [_r("cuda", m.PASSED, None, details={"device": {"cc": "9.0"}})], [])
    assert rec.arch_list.value == "9.0" and rec.arch_list.source == "smoke"


def test_smoke_findings_summarise_and_have_texts_in_both_languages() -> None:
    results = _all({"sdpa-efficient": m.CRASHED, "fft-fp32": m.FAILED, "conv1d-fp16": m.TIMEOUT,
                    "onnxruntime-cuda": m.SKIPPED})
    results = [r if r.test != "onnxruntime-cuda" else _r("onnxruntime-cuda", m.SKIPPED, reason="no-cuda-provider")
               for r in results]
    results[6] = m.SmokeResult("sdpa-efficient", 0, m.CRASHED, error="FATAL: this function is for sm80, but was "
                               "built for sm370", exit="SIGABRT", stage="sdpa-fp16-efficient")
    findings = smoke_findings(_facts(), results)
    codes = {f.code: f for f in findings}
    assert codes["smoke-sdpa-efficient-crashed"].severity is Severity.BLOCKING
    assert codes["smoke-fft-fp32-failed"].severity is Severity.BLOCKING
    assert codes["smoke-conv1d-fp16-timeout"].severity is Severity.WARNING
    assert codes["smoke-passed"].params["count"] == 7
    assert "smoke-skipped-no-cuda-provider" in codes
    assert codes["smoke-sdpa-efficient-crashed"].params["error"].startswith("FATAL")
    for finding in findings:
        for lang in ("en", "zh_CN"):
            for part in ("title", "detail", "fix"):
                assert has_message(lang, f"finding.{finding.code}.{part}"), (lang, finding.code, part)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_possible_smoke_code_and_reason_has_text(lang: str) -> None:
    for test in TEST_NAMES:
        assert has_message(lang, f"smoke.test.{test}")
        for status in (m.FAILED, m.CRASHED, m.TIMEOUT):
            assert has_message(lang, f"finding.smoke-{test}-{status}.title")
    for setting in ("fp16", "v2pro_sv", "upgrade"):
        for key in ("no_torch", "cpu_torch", "no_gpu"):
            assert has_message(lang, f"recommend.{setting}.{key}")


def test_a_risk_the_configuration_already_avoids_keeps_its_workaround() -> None:
    avoided = [Finding("fp16-attention-abort-avoided", Severity.WARNING, {"gpu": RTX5060.name, "arch": "sm_120",
                       "how": "is_half=False"}, (), 0),
               Finding("nvrtc-too-old-avoided", Severity.WARNING, {"gpu": RTX5060.name, "arch": "sm_120"}, (), 0)]
    rec = recommend(_facts(), [], avoided)
    assert (rec.fp16.value, rec.v2pro_sv.value, rec.upgrade_needed.value) == (False, "cpu", True)
    assert rec.fp16.source == "prediction" and rec.fp16.params["finding"] == "fp16-attention-abort-avoided"
    # Proven fine by the tests: the workaround is not needed any more.
    assert {f.code for f in reconcile(avoided, _all({}))} == {"prediction-disproved"}
    assert recommend(_facts(), _all({}), avoided).fp16.value is True


@pytest.mark.parametrize("workarounds, blocking", [
    ({}, {"smoke-sdpa-efficient-crashed", "smoke-fft-fp32-failed", "smoke-elementwise-failed"}),
    ({"fp16-attention-abort-risk": "is_half=False"}, {"smoke-fft-fp32-failed", "smoke-elementwise-failed"}),
    ({"fp16-attention-abort-risk": "is_half=False", "nvrtc-too-old": "v2Pro speaker verification: cpu"},
     {"smoke-elementwise-failed"}),
])
def test_a_break_the_configuration_steers_around_is_a_warning(workarounds: dict, blocking: set) -> None:
    """After fix's choice A (FP16 off, speaker verification on the CPU) the memo's card still breaks the FP16
    and GPU-fft tests: the WebUI no longer runs those on the GPU, so doctor must not call them blockers (fix
    would undo the very workaround that lets the WebUI run). A core kernel failure blocks whatever is set."""
    from dataclasses import replace

    results = _all({"sdpa-efficient": m.CRASHED, "fft-fp32": m.FAILED, "elementwise": m.FAILED})
    findings = smoke_findings(replace(_facts(), workarounds=workarounds), results)
    assert {f.code for f in findings if f.severity is Severity.BLOCKING} == blocking
    for f in findings:
        if f.code in ("smoke-sdpa-efficient-crashed", "smoke-fft-fp32-failed") and f.code not in blocking:
            assert f.severity is Severity.WARNING
            assert any("configured not to run this on the GPU" in line for line in f.evidence)
