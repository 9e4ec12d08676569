"""No NVIDIA GPU or driver: GPT-SoVITS falls back to the CPU (slow), nothing crashes."""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity, probe_attempt_line

CODES = ("no-nvidia-gpu", "gpu-capability-unknown", "bundle-machine-unknown")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    gpu_facts = ctx.facts.gpu
    if ctx.facts.gpu_origin == "unknown":
        # A bundle for another OS: its user's GPU is not this machine's, and "no GPU" would be a guess.
        platform = ctx.facts.foreign_platform or "?"
        return [Finding("bundle-machine-unknown", Severity.WARNING,
                        {"platform": platform, "host": ctx.facts.host_platform},
                        tuple(probe_attempt_line(a.source, a.detail) for a in gpu_facts.attempts))]
    if not gpu_facts.gpus:
        tried = tuple(probe_attempt_line(a.source, a.detail) for a in gpu_facts.attempts)
        return [Finding("no-nvidia-gpu", Severity.WARNING, {}, tried)]
    findings = []
    for gpu in gpu_facts.gpus:
        if ctx.capability(gpu) is None:
            findings.append(Finding("gpu-capability-unknown", Severity.WARNING, {"gpu": gpu.name}, (),
                                    gpu.index))
    return findings
