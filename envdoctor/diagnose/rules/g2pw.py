"""G2PW, GPT-SoVITS' Chinese polyphone model, on onnxruntime-gpu's CUDA provider: is there a kernel?

GPT_SoVITS/text/g2pw/onnx_api.py creates G2PW's session with ["CUDAExecutionProvider",
"CPUExecutionProvider"] whenever onnxruntime offers the CUDA provider (a try/except before 2025-06),
and G2PW runs for every Chinese text. When the provider loads (its CUDA major is the one torch brings:
onnxruntime-gpu 1.31.1 needs CUDA 13's cuBLAS) but has neither SASS nor PTX for the GPU (1.31.1:
sm_75-sm_90a and sm_120a, no PTX on Linux, so B200/B300/GB10 have none), the session's first run
fails with "no kernel image is available for execution on the device" and Chinese synthesis stops.
A provider of another CUDA major does not load and onnxruntime falls back to the CPU: a warning.

The fix that exists: run G2PW on the CPU (`envdoctor configure --g2pw cpu`, part of fix's choice A).
No onnxruntime-gpu on the package index has kernels for these GPUs, so no upgrade is named.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.kernel_lines import ptx_line, sass_line
from envdoctor.diagnose.trust import block_or_warn
from envdoctor.model import BinaryCoverageSummary, Finding, Line, Severity, arch_name
from envdoctor.versions import as_tuple

CODES = ("g2pw-no-kernels", "g2pw-on-cpu")
PROVIDER = "providers_cuda"  # libonnxruntime_providers_cuda.so / onnxruntime_providers_cuda.dll


def is_g2pw_provider(path: str) -> bool:
    """onnxruntime's CUDA execution provider library, the code G2PW's session runs on the GPU."""
    normal = path.replace("\\", "/").lower()
    return "/onnxruntime/capi/" in normal and PROVIDER in os.path.basename(normal)


def _provider(ctx: DiagnosisContext) -> Optional[BinaryCoverageSummary]:
    return next((b for b in ctx.facts.binaries if is_g2pw_provider(b.path)), None)


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    provider = _provider(ctx)
    if provider is None or provider.error:
        return []  # no onnxruntime-gpu, or an unreadable provider (other_binaries says so)
    dist = ctx.facts.distribution("onnxruntime-gpu")
    version = dist.version if dist else "?"
    entry = ctx.matrix.onnxruntime_gpu(version) if dist else None
    torch = ctx.facts.torch
    torch_major = as_tuple(torch.cuda)[:1] if torch and torch.cuda else ()
    # The provider loads only next to the CUDA libraries of its own major (torch's, in a bundle).
    loads = entry is not None and torch_major == (int(entry["cuda_major"]),)
    findings: List[Finding] = []
    for gpu in ctx.facts.gpu.gpus:
        cc = ctx.capability(gpu)
        if cc is None:
            continue
        if coverage.verdict(cc, provider.all_sass, provider.all_ptx) != coverage.NONE:
            continue
        arch = arch_name(cc)
        params = {"gpu": gpu.name, "arch": arch, "binary": os.path.basename(provider.path), "version": version}
        evidence: Tuple[str, ...] = (provider.path, sass_line(provider.all_sass), ptx_line(provider.all_ptx),
                    "GPT_SoVITS/text/g2pw/onnx_api.py: InferenceSession(providers=[\"CUDAExecutionProvider\", ...])")
        how = ctx.facts.workarounds.get("g2pw-no-kernels")
        if how:
            findings.append(Finding("g2pw-on-cpu", Severity.OK, dict(params, how=how), evidence, gpu.index))
            continue
        if entry is not None:
            torch_cuda = torch.cuda if torch else "?"
            ort, cuda = entry["version"], entry["cuda_major"]
            evidence += (Line(f"onnxruntime-gpu {ort}: CUDA {cuda}, torch CUDA {torch_cuda}", "line.ort_cuda",
                              version=ort, cuda=cuda, torch_cuda=torch_cuda),)
        severity = Severity.BLOCKING if loads else Severity.WARNING
        basis = [ctx.matrix.fact_status("companions.yaml", f"onnxruntime_gpu[{entry['version']}]")] if entry else []
        findings.extend(block_or_warn(Finding("g2pw-no-kernels", severity, params, evidence, gpu.index), basis))
    return findings
