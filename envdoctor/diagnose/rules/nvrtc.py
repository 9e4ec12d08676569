"""Can the NVRTC torch loads (run-time compiler) target this GPU?

That NVRTC is the one installed beside torch (probes/nvrtc.py reads its version from the files), not
necessarily of torch's own CUDA version: nvidia-cuda-nvrtc-cu12 12.9 beside a cu128 torch, or a newer
nvrtc64_120_0.dll copied into torch\\lib, is how users give an older build sm_103/sm_121. Where the
files do not say, torch's CUDA version stands in.

torch compiles some elementwise kernels at run time (the jiterator), e.g. for torch.fft.rfft(x).abs()
in GPT-SoVITS' speaker-verification fbank. An NVRTC older than the GPU rejects its -arch: the memo's
v2Pro failure ("nvrtc: error: invalid value for --gpu-architecture (-arch)").
"""

from __future__ import annotations

from typing import List, Tuple

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.trust import block_or_warn
from envdoctor.matrix.views import Toolkit
from envdoctor.model import (
    ComputeCapability,
    Finding,
    Line,
    Severity,
    arch_name,
    configured_line,
    cuda_targets_line,
)
from envdoctor.versions import as_tuple, major_minor

# nvrtc-arch-dropped: the GPU is older than this CUDA supports (13.0 dropped sm_50-sm_72), not newer.
CODES = ("nvrtc-too-old", "nvrtc-too-old-avoided", "nvrtc-arch-dropped")


def accepts(toolkit: Toolkit, cc: ComputeCapability) -> bool:
    """Whether torch's jiterator gets code for CC out of this NVRTC (the upgrade plan asks the same)."""
    if arch_name(cc) in toolkit.sass_archs:
        return True
    cap = toolkit.jiterator_cap
    # torch asks an NVRTC before 11.8 for PTX of the cap at most, and the driver JIT-compiles it
    return cap is not None and cc > cap and arch_name(cap) in toolkit.sass_archs


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch = ctx.facts.torch
    if torch is None or not torch.is_cuda:
        return []
    nvrtc = torch.nvrtc or torch.cuda or ""
    toolkit = ctx.matrix.toolkit(nvrtc)
    if toolkit is None:
        return []
    read: Tuple[str, ...] = (Line(f"NVRTC {nvrtc} read from {torch.nvrtc_source}", "line.nvrtc_read", version=nvrtc,
                                   source=torch.nvrtc_source),) if torch.nvrtc else ()
    findings = []
    for gpu in ctx.judged_gpus():  # the GPU GPT-SoVITS uses, not every GPU
        cc = ctx.capability(gpu)
        if cc is None:
            continue
        arch = arch_name(cc)
        if accepts(toolkit, cc):
            continue
        first = ctx.matrix.toolkits_for_arch(cc)
        dropped = bool(first) and all(as_tuple(t.version) < as_tuple(toolkit.version) for t in first)
        params = {"gpu": gpu.name, "arch": arch, "cuda": major_minor(nvrtc),
                  "needed": first[0].version if first else "?"}
        if dropped:
            params["last"] = first[-1].version
        evidence = read + (cuda_targets_line(toolkit.version, " ".join(toolkit.sass_archs)), toolkit.source)
        workaround = ctx.facts.workarounds.get("nvrtc-too-old")
        if workaround:  # `configure --v2pro-sv cpu|off` keeps the NVRTC-compiled fbank off the GPU
            findings.append(Finding("nvrtc-too-old-avoided", Severity.WARNING, dict(params, how=workaround),
                                    evidence + (configured_line(workaround),), gpu.index))
        else:
            code = "nvrtc-arch-dropped" if dropped else "nvrtc-too-old"
            basis = [ctx.matrix.fact_status("cuda.yaml", f"toolkits[{toolkit.version}].sass_archs"),
                     ctx.capability_fact(gpu)]
            findings.extend(block_or_warn(Finding(code, Severity.BLOCKING, params, evidence, gpu.index), basis))
    return findings
