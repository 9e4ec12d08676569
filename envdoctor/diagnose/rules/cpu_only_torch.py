"""A CPU-only torch on a machine with an NVIDIA GPU: it runs, but slowly, and the GPU is unused."""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity

CODES = ("cpu-only-torch",)


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch = ctx.facts.torch
    if torch is None or torch.is_cuda or not ctx.facts.gpu.gpus or torch.hip or torch.damage:
        return []
    return [Finding("cpu-only-torch", Severity.WARNING, {"torch": torch.version}, ("torch.version.cuda = None",))]
