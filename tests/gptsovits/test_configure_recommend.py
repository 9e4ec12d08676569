from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Tuple

from envdoctor.gptsovits.recommend import arch_list_from_gpus, from_doctor
from envdoctor.model import Driver, Facts, Finding, Gpu, GpuFacts, Runtime, Severity, TorchBuild
from envdoctor.support.advice import from_check

# configure's `auto` advice is doctor's recommendation from the check's findings (no smoke results):
# a CUDA 12.4 torch on an RTX 5060 Ti, the memo's machine.
RTX5060 = Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0), source="nvml")
SITE = "/r/lib/python3.11/site-packages"
FACTS = Facts(GpuFacts((RTX5060,), Driver("576.02", "12.9")),
              Runtime("/r", "/r/bin/python3", "posix-prefix", "linux", "3.11", (SITE,)),
              TorchBuild("2.6.0+cu124", "2.6.0", "cu124", "12.4", None, None, None, f"{SITE}/torch"))


def test_findings_turn_into_fp16_off_and_sv_on_cpu() -> None:
    findings = [
        Finding("ptx-jit-only", Severity.WARNING, {"gpu": RTX5060.name}, gpu_index=0),
        Finding("fp16-attention-abort-risk", Severity.BLOCKING, {"gpu": RTX5060.name, "arch": "sm_120"}, gpu_index=0),
        Finding("nvrtc-too-old", Severity.BLOCKING, {"cuda": "12.4", "needed": "12.8", "arch": "sm_120"},
                gpu_index=0),
    ]
    advice = from_check(FACTS, findings)
    assert (advice.fp16, advice.sv, advice.upgrade) == (False, "cpu", True)
    assert "fp16-attention-abort-risk (sm_120)" in advice.fp16_evidence
    assert "nvrtc-too-old (sm_120)" in advice.sv_evidence


def test_no_findings_means_keep_gptsovits_defaults() -> None:
    advice = from_check(FACTS, [Finding("kernels-native", Severity.OK, {}, gpu_index=0)])
    assert (advice.fp16, advice.sv, advice.upgrade) == (None, None, False)


def test_arch_list_lists_each_capability_once_in_order() -> None:
    gpus = GpuFacts((Gpu(0, "RTX 5090", (12, 0)), Gpu(1, "RTX 3090", (8, 6)), Gpu(2, "RTX 5080", (12, 0)),
                     Gpu(3, "unknown", None)), Driver("576.02"))
    assert arch_list_from_gpus(gpus) == "8.6;12.0"
    assert arch_list_from_gpus(GpuFacts((), None)) is None


@dataclass(frozen=True)
class _Setting:  # the shape of envdoctor.doctor.results.Setting
    value: Any
    reason: str
    source: str
    evidence: Tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Advice:
    fp16: _Setting
    v2pro_sv: _Setting


def test_doctor_evidence_is_written_and_its_defaults_are_not() -> None:
    proved = _Advice(_Setting(False, "recommend.fp16.smoke_broke", "smoke", ("sdpa-efficient: crashed",)),
                     _Setting("cpu", "recommend.v2pro_sv.predicted_risk", "prediction", ("nvrtc-too-old",)))
    advice = from_doctor(proved)
    assert (advice.fp16, advice.sv) == (False, "cpu") and "sdpa-efficient: crashed" in advice.fp16_evidence
    defaults = _Advice(_Setting(False, "recommend.fp16.old_gpu", "default"), _Setting("on", "x", "smoke"))
    assert (from_doctor(defaults).fp16, from_doctor(defaults).sv) == (None, None)


def test_no_kernels_for_the_gpu_turns_everything_careful_and_asks_for_the_upgrade() -> None:
    advice = from_check(FACTS, [Finding("no-kernels-for-gpu", Severity.BLOCKING,
                                        {"gpu": RTX5060.name, "arch": "sm_120"}, gpu_index=0)])
    assert (advice.fp16, advice.sv, advice.upgrade) == (False, "cpu", True)
    assert from_check(FACTS, []).upgrade is False
