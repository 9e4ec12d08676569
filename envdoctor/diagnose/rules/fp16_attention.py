"""FP16 attention risk: the memo's "FATAL: this function is for sm80, but was built for sm370".

The fused (memory-efficient, CUTLASS) attention kernels check at run time which architecture they
were built for. When the torch build has no native SASS for the GPU, the kernel that runs was not
built for it and the check aborts the whole process. GPT-SoVITS uses FP16 by default on such cards.
"""

from __future__ import annotations

from typing import List

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.trust import block_or_warn
from envdoctor.model import Finding, Severity, arch_name, configured_line, source_detail_line

CODES = ("fp16-attention-abort-risk", "fp16-attention-abort-avoided")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch = ctx.facts.torch
    if torch is None or not torch.is_cuda:
        return []
    findings = []
    if not ctx.device_choice().is_half:
        return []  # config.py runs this machine in FP32 (e.g. the WebUI on a card it sends to the CPU)
    for gpu in ctx.judged_gpus():  # the GPU GPT-SoVITS uses, not every GPU
        cc = ctx.capability(gpu)
        view = ctx.coverage_for(cc) if cc else None
        # With no kernels at all, "no kernel image" comes first; that is arch_coverage's finding.
        if cc is None or view is None or view.verdict != coverage.PTX_JIT or cc < (8, 0):
            continue
        params = {"gpu": gpu.name, "arch": arch_name(cc), "torch": torch.version}
        evidence = (source_detail_line(view.source, view.detail),)
        workaround = ctx.facts.workarounds.get("fp16-attention-abort-risk")
        if workaround:  # `configure --fp16 off` is in place: the WebUI runs, only slower
            findings.append(Finding("fp16-attention-abort-avoided", Severity.WARNING, dict(params, how=workaround),
                                    evidence + (configured_line(workaround),), gpu.index))
        else:
            risk = Finding("fp16-attention-abort-risk", Severity.BLOCKING, params, evidence, gpu.index)
            findings.extend(block_or_warn(risk, ctx.view_facts(view) + [ctx.capability_fact(gpu)]))
    return findings
