"""What `auto` means: the settings doctor recommends for this machine, as configure writes them.

There is one recommendation: `envdoctor.doctor.recommend` decides (fed with the check's facts and
findings, see envdoctor/support/advice.py); `from_doctor` maps its answer onto the values configure writes.
The arch list follows NVML (detect_gpus).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from envdoctor.model import GpuFacts, format_cc


@dataclass(frozen=True)
class Recommendation:
    fp16: Optional[bool] = None  # False: turn FP16 off; None: GPT-SoVITS's choice is fine
    sv: Optional[str] = None  # "cpu": keep speaker verification, run it on the CPU; None: leave as is
    fp16_evidence: str = ""
    sv_evidence: str = ""
    error: Optional[str] = None  # the check could not run (then nothing is recommended)
    upgrade: bool = False  # the torch build is wrong for this GPU: settings are a workaround, not the fix
    evidence: Tuple[str, ...] = field(default_factory=tuple)
    g2pw: Optional[str] = None  # "cpu": G2PW's CUDA provider has no kernel for this GPU; None: leave as is
    g2pw_evidence: str = ""


def from_doctor(advice: Any) -> Recommendation:
    """Map envdoctor.doctor.recommend's Recommendation (Settings with value + source) onto ours.

    A value doctor got from GPT-SoVITS's own default or from plain facts (no GPU) is what GPT-SoVITS
    already does by itself: nothing to override (None). Only evidence (smoke tests, predictions) is written.
    """
    def pick(setting: Any, neutral: Any) -> Tuple[Any, str]:
        if setting is None or getattr(setting, "source", "default") in ("default", "facts"):
            return None, ""
        value = getattr(setting, "value", None)
        if value == neutral:
            return None, ""
        evidence = "; ".join(getattr(setting, "evidence", ()) or ()) or str(getattr(setting, "reason", ""))
        return value, f"{setting.source}: {evidence}"

    fp16, fp16_why = pick(getattr(advice, "fp16", None), True)
    sv, sv_why = pick(getattr(advice, "v2pro_sv", None), "on")
    upgrade = bool(getattr(getattr(advice, "upgrade_needed", None), "value", False))
    return Recommendation(fp16, sv, fp16_why, sv_why, upgrade=upgrade)


def arch_list_from_gpus(gpus: GpuFacts) -> Optional[str]:
    """Compute capabilities of this machine's GPUs as TORCH_CUDA_ARCH_LIST wants them ('8.9;12.0')."""
    seen: List[str] = []
    for gpu in gpus.gpus:
        if gpu.compute_capability is None:
            continue
        text = format_cc(gpu.compute_capability)
        if text not in seen:
            seen.append(text)
    if not seen:
        return None
    return ";".join(sorted(seen, key=lambda t: tuple(int(p) for p in t.split("."))))
