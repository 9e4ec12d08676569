"""torch must be in the runtime, and its build must be one the matrix knows to judge it fully."""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity

CODES = ("torch-not-installed", "torch-build-unknown", "site-packages-not-found", "torch-damaged")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch = ctx.facts.torch
    if ctx.facts.runtime is None:
        return []
    runtime = ctx.facts.runtime
    if torch is None:
        if not runtime.site_packages:
            # Nothing was looked in: saying "torch is not installed" would be a guess.
            return [Finding("site-packages-not-found", Severity.WARNING, {"root": runtime.root},
                            (f"layout: {runtime.layout}",))]
        return [Finding("torch-not-installed", Severity.BLOCKING, {"site": ", ".join(runtime.site_packages)})]
    if torch.damage:
        return [Finding("torch-damaged", Severity.WARNING, {"torch": torch.location, "damage": torch.damage},
                        (torch.location, torch.damage))]
    unknown_toolkit = torch.is_cuda and ctx.matrix.toolkit(torch.cuda or "") is None
    if ctx.torch_series() is None or (torch.is_cuda and ctx.torch_variant() is None) or unknown_toolkit:
        return [Finding("torch-build-unknown", Severity.WARNING, {"torch": torch.version}, (torch.location,))]
    return []
