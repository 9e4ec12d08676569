"""Every CUDA binary besides torch's core library, judged by its role (matrices/binaries.yaml).

- op-specific torch libraries and NVIDIA vendor libraries: a warning that names the operations
  they serve (information only, where the matrix says GPT-SoVITS never runs them on the GPU);
  blocking only where the matrix says GPT-SoVITS runs those operations on the GPU and
  a missing kernel stops it (cuFFT: torch.stft of the reference audio), and only where the scan saw
  the library's kernels (cuFFT keeps them outside the fat binary cuobjdump lists);
- extension packages (onnxruntime-gpu for G2PW, torchaudio, torchvision, xformers): a warning naming
  the feature that breaks (upstream issue #2625: "no kernel image" inside onnxruntime on RTX 50xx);
- binaries no row knows: a warning naming the file; stubs whose kernels live in another library
  (cuFFTW) are judged through that library.
Whenever the answer is not certain, the finding is a warning and points to `envdoctor doctor`.
"""

from __future__ import annotations

import os
from typing import List

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.kernel_lines import ptx_line, sass_line
from envdoctor.diagnose.rules.g2pw import is_g2pw_provider
from envdoctor.matrix.views import ROLE_EXTENSION, ROLE_OP_SPECIFIC, ROLE_VENDOR, BinaryRole
from envdoctor.model import BinaryCoverageSummary, Finding, Line, Severity, arch_name

CODES = (
    "binary-lacks-kernels",
    "binary-ptx-jit-only",
    "binary-unreadable",
    "library-lacks-kernels",
    "needed-library-lacks-kernels",
    "library-kernels-unseen",
    "extension-lacks-kernels",
)

_EMPTY_TEXT = {"en": "", "zh_CN": ""}


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    findings: List[Finding] = []
    for binary in ctx.facts.binaries:
        if binary.error and binary.error not in ("not-elf-or-pe",):
            findings.append(Finding("binary-unreadable", Severity.WARNING,
                                    {"binary": os.path.basename(binary.path), "error": binary.error}, (binary.path,)))
    for gpu in ctx.judged_gpus():  # the GPU GPT-SoVITS uses, not every GPU
        cc = ctx.capability(gpu)
        if cc is None:
            continue
        arch = arch_name(cc)
        for binary in ctx.other_binaries():
            verdict = coverage.verdict(cc, binary.all_sass, binary.all_ptx)
            if verdict == coverage.NATIVE:
                continue
            role = ctx.role_of(binary)
            if role.kernels == "delegated":
                continue  # a stub in front of another library's kernels (cuFFTW -> cuFFT): judged there
            if verdict == coverage.NONE and is_g2pw_provider(binary.path):
                continue  # onnxruntime's CUDA provider: G2PW's own rule says what breaks and what helps
            params = {"gpu": gpu.name, "arch": arch, "binary": os.path.basename(binary.path), "library": role.name,
                      "serves": role.serves, "why": role.gptsovits.why if role.gptsovits else _EMPTY_TEXT}
            evidence = _evidence(binary, role)
            code, severity = _judge(binary, role, verdict)
            findings.append(Finding(code, severity, params, evidence, gpu.index))
    return findings


def _judge(binary: BinaryCoverageSummary, role: BinaryRole, verdict: str):
    if verdict == coverage.PTX_JIT:
        # The driver compiles PTX once, on the first launch, and caches it; for a library GPT-SoVITS
        # never calls (the matrix says so, with its source) nothing is launched: worth a line, not a warning.
        unused = role.gptsovits is not None and not role.gptsovits.uses
        return "binary-ptx-jit-only", Severity.OK if unused else Severity.WARNING
    if role.role == ROLE_EXTENSION:
        return "extension-lacks-kernels", Severity.WARNING
    if role.role not in (ROLE_OP_SPECIFIC, ROLE_VENDOR):
        return "binary-lacks-kernels", Severity.WARNING
    if role.kernels == "embedded" and not (binary.embedded_sass or binary.embedded_ptx):
        # Only the registered stub was seen: the library's real kernels were not looked at, or the
        # search found none of them (then the file is not what the matrix knows): no verdict either way.
        return "library-kernels-unseen", Severity.WARNING
    use = role.gptsovits
    if use is not None and use.uses and use.blocking and not binary.error:
        return "needed-library-lacks-kernels", Severity.BLOCKING
    if use is not None and not use.uses:
        # GPT-SoVITS never launches these operations on the GPU (the matrix says so, with its source):
        # libtorch_cuda_linalg from sm_80 in the cu130 builds must not warn on every Turing launch.
        return "library-lacks-kernels", Severity.OK
    return "library-lacks-kernels", Severity.WARNING


def _evidence(binary: BinaryCoverageSummary, role: BinaryRole) -> tuple:
    lines: List[str] = [binary.path,
                        Line(f"role: {role.role} ({role.name}; {role.source})", "line.binary_role", role=role.role,
                             name=role.name, source=role.source),
                        sass_line(binary.sass, none=""), ptx_line(binary.ptx, none="")]
    if binary.embedded_sass or binary.embedded_ptx:
        lines += [sass_line(binary.embedded_sass, none="", embedded=True),
                  ptx_line(binary.embedded_ptx, none="", embedded=True)]
    if role.gptsovits is not None:
        why = role.gptsovits.why
        lines.append(Line(f"GPT-SoVITS: {why.get('en', '')} ({role.gptsovits.source})", "line.gptsovits_use",
                          why=why.get("en", ""), why_zh=why.get("zh_CN") or why.get("en", ""),
                          source=role.gptsovits.source))
    if role.kernels == "embedded":
        lines.append(Line("embedded containers: searched", "line.embedded_searched") if binary.searched else
                     Line("embedded containers: not searched (registered only)", "line.embedded_not_searched"))
    if binary.error:
        lines.append(Line(f"scan error: {binary.error}", "line.scan_error", error=binary.error))
    return tuple(lines)
