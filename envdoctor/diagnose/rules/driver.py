"""Is the installed driver new enough for the CUDA toolkit the torch build was made with?

Below the toolkit's own minimum a 12.x build may still run through minor-version compatibility
(warning: no PTX JIT), below that the CUDA runtime refuses to start (blocking).
"""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.trust import block_or_warn
from envdoctor.model import Finding, Severity, driver_line, torch_cuda_line
from envdoctor.versions import at_least, major_minor

CODES = ("driver-too-old", "driver-minor-compat", "driver-ok", "driver-unknown", "driver-unknown-minimum")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch, gpu_facts = ctx.facts.torch, ctx.facts.gpu
    if torch is None or not torch.is_cuda or not gpu_facts.gpus:
        return []
    driver = gpu_facts.driver
    if driver is None:
        return [Finding("driver-unknown", Severity.WARNING, {})]
    platform = ctx.facts.runtime.platform if ctx.facts.runtime else ctx.facts.host_platform
    toolkit = ctx.matrix.toolkit(torch.cuda or "")
    params = {"driver": driver.version, "cuda": major_minor(torch.cuda), "torch": torch.version}
    evidence = (driver_line(driver.version, driver.source), torch_cuda_line(torch.version, torch.cuda))
    if toolkit is None:  # an unknown CUDA version: torch_installed reports the build as unknown
        return [Finding("driver-unknown-minimum", Severity.WARNING, params, evidence)]
    compat = ctx.matrix.minor_compat_of(torch.cuda or "")
    compat_min = compat.min_driver.get(platform) if compat else None
    # The matrix may not know a toolkit's own minimum (not published yet): the major's floor stands in.
    minimum = toolkit.min_driver.get(platform) or compat_min
    if minimum is None:
        return [Finding("driver-unknown-minimum", Severity.WARNING, params, evidence + (toolkit.source,))]
    params["minimum"] = minimum
    if at_least(driver.version, minimum):
        return [Finding("driver-ok", Severity.OK, params, evidence + (toolkit.source,))]
    if compat is not None and compat_min and at_least(driver.version, compat_min):
        params["compat_minimum"] = compat_min
        return [Finding("driver-minor-compat", Severity.WARNING, params, evidence + (compat.source,))]
    # Below the major's floor the runtime cannot start: that floor is the fact the block rests on
    # (the toolkit's own minimum only where the matrix knows no floor for the major).
    basis = (ctx.matrix.fact_status("cuda.yaml", f"minor_version_compat[{compat.major}]") if compat and compat_min
             else ctx.matrix.fact_status("cuda.yaml", f"toolkits[{toolkit.version}].min_driver"))
    return block_or_warn(Finding("driver-too-old", Severity.BLOCKING, params, evidence + (toolkit.source,)), [basis])
