"""What the runtime's own interpreter said: import failures, crashes, hangs, CUDA not available."""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity

CODES = ("live-import-failed", "live-crashed", "live-timeout", "live-cuda-unavailable", "live-skipped")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    live, torch = ctx.facts.live, ctx.facts.torch
    if live is None:
        return []
    error = (live.error or "").strip()
    evidence = (error[-500:],) if error else ()
    if live.status == "skipped":
        return [Finding("live-skipped", Severity.OK, {"reason": error})]
    if live.status == "timeout":
        return [Finding("live-timeout", Severity.WARNING, {"seconds": round(live.duration_s)}, evidence)]
    if live.status == "crashed":
        return [Finding("live-crashed", Severity.BLOCKING, {"error": error.splitlines()[0] if error else ""}, evidence)]
    if live.status == "failed":
        return [Finding("live-import-failed", Severity.BLOCKING, {"error": error.splitlines()[-1] if error else ""},
                        evidence)]
    if torch is not None and torch.is_cuda and ctx.facts.gpu.gpus and live.cuda_available is False:
        return [Finding("live-cuda-unavailable", Severity.WARNING, {"torch": live.torch_version or torch.version})]
    return []
