from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Tuple

from envdoctor.gptsovits.recommend import arch_list_from_gpus, from_doctor, from_findings
from envdoctor.model import Driver, Finding, Gpu, GpuFacts, Severity


def test_findings_turn_into_fp16_off_and_sv_on_cpu() -> None:
    findings = [
        Finding("ptx-jit-only", Severity.WARNING, {"gpu": "RTX 5060 Ti"}),
        Finding("fp16-attention-abort-risk", Severity.BLOCKING, {"gpu": "RTX 5060 Ti", "arch": "sm_120"}),
        Finding("nvrtc-too-old", Severity.BLOCKING, {"cuda": "12.4", "needed": "12.8"}),
    ]
    advice = from_findings(findings)
    assert (advice.fp16, advice.sv) == (False, "cpu")
    assert "sm_120" in advice.fp16_evidence and "12.4 < 12.8" in advice.sv_evidence


def test_no_findings_means_keep_gptsovits_defaults() -> None:
    advice = from_findings([Finding("kernels-native", Severity.OK, {})])
    assert (advice.fp16, advice.sv) == (None, None)


def test_arch_list_lists_each_capability_once_in_order() -> None:
    gpus = GpuFacts((Gpu(0, "RTX 5090", (12, 0)), Gpu(1, "RTX 3090", (8, 6)), Gpu(2, "RTX 5080", (12, 0)),
                     Gpu(3, "unknown", None)), Driver("576.02"))
    assert arch_list_from_gpus(gpus) == "8.6;12.0"
    assert arch_list_from_gpus(GpuFacts((), None)) is None


@dataclass(frozen=True)
class _Setting:  # the shape of envdoctor.doctor.model.Setting
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
    advice = from_findings([Finding("no-kernels-for-gpu", Severity.BLOCKING, {"gpu": "RTX 5060 Ti", "arch": "sm_120"})])
    assert (advice.fp16, advice.sv, advice.upgrade) == (False, "cpu", True)
    assert from_findings([]).upgrade is False
