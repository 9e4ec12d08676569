"""Does the torch build carry kernels this GPU can run: native SASS, PTX to JIT, or nothing?

Prefers what is inside torch's core library (fat-binary scan of libtorch_cuda / torch_cuda.dll),
then what torch reports (live probe), then the matrix's arch list for the build, and says when the
sources disagree. Libraries loaded for some operations only are other_binaries' business.
"""

from __future__ import annotations

from typing import List, Tuple

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.trust import block_or_warn
from envdoctor.model import Finding, Line, Severity, arch_name, coverage_line

CODES = ("kernels-native", "ptx-jit-only", "no-kernels-for-gpu", "arch-sources-disagree", "coverage-unknown")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch = ctx.facts.torch
    if torch is None or not torch.is_cuda:
        return []
    findings: List[Finding] = []
    for gpu in ctx.judged_gpus():  # the GPU GPT-SoVITS uses, not every GPU
        cc = ctx.capability(gpu)
        if cc is None:
            continue
        arch = arch_name(cc)
        views = ctx.coverage_views(cc)
        if not views:
            findings.append(Finding("coverage-unknown", Severity.WARNING, {"gpu": gpu.name, "arch": arch},
                                    gpu_index=gpu.index))
            continue
        best = views[0]
        evidence: Tuple[str, ...] = tuple(coverage_line(v.source, v.verdict, v.detail) for v in views)
        params = {"gpu": gpu.name, "arch": arch, "torch": torch.version, "source": best.source,
                  "lacking": ", ".join(best.lacking)}
        code, severity = {
            coverage.NATIVE: ("kernels-native", Severity.OK),
            coverage.PTX_JIT: ("ptx-jit-only", Severity.WARNING),
            coverage.NONE: ("no-kernels-for-gpu", Severity.BLOCKING),
        }[best.verdict]
        if best.verdict == coverage.NONE and not best.complete:
            # A core library that could not be read to the end: its "none" may be the damage talking.
            severity = Severity.WARNING
            evidence += (Line("the scan of a core library stopped early: run envdoctor doctor to test the GPU",
                              "line.scan_stopped"),)
        findings.extend(block_or_warn(Finding(code, severity, params, evidence, gpu.index),
                                      ctx.view_facts(best) + [ctx.capability_fact(gpu)]))
        verdicts = {v.source: v.verdict for v in views}
        if len(set(verdicts.values())) > 1:
            params = dict(params, sources=", ".join(f"{s}={v}" for s, v in verdicts.items()))
            findings.append(Finding("arch-sources-disagree", Severity.WARNING, params, evidence, gpu.index))
    return findings
