"""What `auto` means: the settings doctor recommends for this machine.

One small seam on purpose: where `envdoctor.doctor.recommend` exists, its logic decides (fed with the
check's facts and findings); otherwise fp16 and speaker verification follow the check's findings
directly. The arch list follows NVML (detect_gpus) either way.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Tuple

from envdoctor.gptsovits.mitigations import FP16_RISK, NVRTC_DROPPED, NVRTC_OLD
from envdoctor.model import Finding, GpuFacts, format_cc

NO_KERNELS = "no-kernels-for-gpu"
# Findings that settings only soften: the torch build itself is wrong for the GPU.
UPGRADE_CODES = (NO_KERNELS, NVRTC_OLD, NVRTC_DROPPED, FP16_RISK)


@dataclass(frozen=True)
class Recommendation:
    fp16: Optional[bool] = None  # False: turn FP16 off; None: GPT-SoVITS's choice is fine
    sv: Optional[str] = None  # "cpu": keep speaker verification, run it on the CPU; None: leave as is
    fp16_evidence: str = ""
    sv_evidence: str = ""
    error: Optional[str] = None  # the check could not run (then nothing is recommended)
    upgrade: bool = False  # the torch build is wrong for this GPU: settings are a workaround, not the fix
    evidence: Tuple[str, ...] = field(default_factory=tuple)


def from_findings(findings: Iterable[Finding]) -> Recommendation:
    """Pure: findings of a check -> fp16 / speaker-verification advice."""
    fp16: Optional[bool] = None
    sv: Optional[str] = None
    fp16_why = sv_why = ""
    upgrade = False
    for finding in findings:
        upgrade = upgrade or finding.code in UPGRADE_CODES
        if finding.code in (FP16_RISK, NO_KERNELS) and fp16 is None:
            # No kernels at all: nothing runs on this GPU; FP16 off is still the careful value.
            fp16, fp16_why = False, f"{finding.code}: {finding.params.get('gpu', '')} {finding.params.get('arch', '')}"
        if finding.code == NO_KERNELS and sv is None:
            sv, sv_why = "cpu", f"{NO_KERNELS}: {finding.params.get('arch', '')}"
        if finding.code == NVRTC_OLD and sv in (None, "cpu"):
            params = finding.params
            sv, sv_why = "cpu", f"{NVRTC_OLD}: CUDA {params.get('cuda', '')} < {params.get('needed', '')}"
        if finding.code == NVRTC_DROPPED and sv in (None, "cpu"):
            params = finding.params
            sv, sv_why = "cpu", f"{NVRTC_DROPPED}: CUDA {params.get('cuda', '')} > {params.get('last', '')}"
    return Recommendation(fp16, sv, fp16_why.strip(), sv_why.strip(), upgrade=upgrade)


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


def detect_arch_list(bundle_os: Optional[str] = None) -> Tuple[Optional[str], str]:
    """This machine's compute capabilities, for `--arch-list auto`. A bundle for another OS (BUNDLE_OS
    "windows" examined from Linux/WSL, or "posix" from Windows) runs on its user's machine, whose GPU
    this one is not: nothing is detected there (unless ENVDOCTOR_GPUS says what to assume)."""
    from envdoctor.paths import host_platform
    from envdoctor.probes import bundle_machine
    from envdoctor.probes.gpus import OverrideError, detect_gpus

    host = host_platform()
    if bundle_os is not None and (bundle_os == "windows") != (host == "windows") and not bundle_machine.overridden():
        platform = "windows" if bundle_os == "windows" else "linux"
        attempt = bundle_machine.unknown_machine(platform, host).attempts[0]
        return None, f"{attempt.source}: {attempt.detail}"
    try:
        gpus = detect_gpus()
    except OverrideError as exc:
        return None, str(exc)
    names = ", ".join(f"{g.name} ({format_cc(g.compute_capability)})" for g in gpus.gpus)
    source = next((a.source for a in gpus.attempts if a.ok), "none")
    return arch_list_from_gpus(gpus), f"{source}: {names or 'no GPU'}"


def recommend(root: str, live: bool = True) -> Recommendation:
    """Run the check on ROOT's runtime and turn its findings into advice; never raises."""
    from envdoctor.errors import EnvdoctorError
    from envdoctor.pipeline import run_check
    from envdoctor.probes.collect import CollectOptions

    try:
        report = run_check(CollectOptions(root=root, live=live))
    except EnvdoctorError as exc:
        from envdoctor.i18n import message

        return Recommendation(error=message("en", exc.key, **exc.params))
    except Exception as exc:  # a broken probe must not stop configure; the user still gets explicit choices
        return Recommendation(error=f"{type(exc).__name__}: {exc}")
    try:  # doctor's recommendation logic, where that package is installed
        doctor = importlib.import_module("envdoctor.doctor.recommend")
    except ImportError:
        return from_findings(report.findings)
    return from_doctor(doctor.recommend(report.facts, (), report.findings))
