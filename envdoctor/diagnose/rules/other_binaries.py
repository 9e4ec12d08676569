"""Other CUDA binaries in the runtime (torchaudio, onnxruntime-gpu, xformers...) need coverage too.

GPT-SoVITS' G2PW text frontend runs onnxruntime on CUDA; on RTX 50xx it failed with "no kernel
image" even after torch itself was fixed (upstream issue #2625).
"""

from __future__ import annotations

import os
from typing import List

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity, arch_name

CODES = ("binary-lacks-kernels", "binary-ptx-jit-only", "binary-unreadable")


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    findings: List[Finding] = []
    for binary in ctx.facts.binaries:
        if binary.error and binary.error not in ("not-elf-or-pe",):
            findings.append(Finding("binary-unreadable", Severity.WARNING,
                                    {"binary": os.path.basename(binary.path), "error": binary.error}, (binary.path,)))
    for gpu in ctx.facts.gpu.gpus:
        cc = ctx.capability(gpu)
        if cc is None:
            continue
        for binary in ctx.other_binaries():
            verdict = coverage.verdict(cc, binary.sass, binary.ptx)
            if verdict == coverage.NATIVE:
                continue
            code = "binary-lacks-kernels" if verdict == coverage.NONE else "binary-ptx-jit-only"
            params = {"gpu": gpu.name, "arch": arch_name(cc), "binary": os.path.basename(binary.path)}
            evidence = (binary.path, "SASS: " + " ".join(sorted(binary.sass)), "PTX: " + " ".join(sorted(binary.ptx)))
            findings.append(Finding(code, Severity.WARNING, params, evidence, gpu.index))
    return findings
