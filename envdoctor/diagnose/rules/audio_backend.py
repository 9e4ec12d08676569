"""Can this torchaudio load audio at all? From 2.9 it reads files only through TorchCodec.

torchaudio 2.9+ defines load() as `return load_with_torchcodec(...)`; without the torchcodec package
it raises "TorchCodec is required for load_with_torchcodec" (matrices/companions.yaml audio_io,
measured on the wheels). GPT-SoVITS reads every reference audio with torchaudio.load
(GPT_SoVITS/inference_webui.py, TTS_infer_pack/TTS.py), so synthesis fails whatever the GPU; and
GPT-SoVITS' own cu128 package script installs an unpinned torch/torchaudio with no torchcodec, so
real bundles are in this state. The fix: the torchcodec made for this torch, plus FFmpeg's shared
libraries, or torchaudio 2.8 or older.
"""

from __future__ import annotations

from typing import List, Optional

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.trust import block_or_warn
from envdoctor.matrix.views import Matrix
from envdoctor.model import Finding, Line, Severity
from envdoctor.probes.torchfiles import split_local
from envdoctor.versions import as_tuple, major_minor

CODES = ("torchaudio-needs-torchcodec",)


def _python_fits(spec: str, python: Optional[str]) -> bool:
    """Whether a torchcodec row's python range (">=3.10,<=3.14") admits this major.minor; unknown fits."""
    if not python:
        return True
    version = as_tuple(major_minor(python))
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        bound = as_tuple(part.lstrip("<>="))
        if (part.startswith(">=") and version < bound) or (part.startswith("<=") and version > bound):
            return False
    return True


def _torchcodec(matrix: Matrix, torch_release: str, python: Optional[str]) -> Optional[str]:
    """The newest torchcodec made for this torch that this Python can install, where the matrix is sure."""
    # Only a verified pairing is named: a wrong torchcodec fails to load ("Could not load libtorchcodec").
    usable = {row["torchcodec"] for row in matrix.companions.get("torchcodec", [])
              if row.get("verified") is True and _python_fits(str(row.get("python", "")), python)}
    return next((v for v in matrix.torchcodec_for(torch_release) if v in usable), None)


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    audio = ctx.facts.distribution("torchaudio")
    if audio is None or ctx.facts.distribution("torchcodec") is not None:
        return []
    release, _local = split_local(audio.version)
    row = ctx.matrix.audio_io(release)
    if row is None or row.get("backend") != "torchcodec":
        return []
    torch = ctx.facts.torch
    torch_release = torch.release if torch else release
    python = ctx.facts.runtime.python_version if ctx.facts.runtime else None
    codec = _torchcodec(ctx.matrix, torch_release, python)
    # pip's requirement for the runtime: the release made for this torch where the matrix knows one
    params = {"torchaudio": audio.version, "torch": torch_release,
              "requirement": f"torchcodec=={codec}.*" if codec else "torchcodec"}
    says = row["source"].get("says", "")
    evidence = (Line(f"{audio.name} {audio.version} installed, no torchcodec distribution in site-packages",
                     "line.no_torchcodec", name=audio.name, version=audio.version),
                Line(f"torchaudio {row['torchaudio_min']}+ loads audio with TorchCodec: {says}",
                     "line.audio_with_torchcodec", version=row["torchaudio_min"], says=says))
    # The row is measured on the torchaudio wheels up to the newest in torchaudio_builds; a newer release
    # (one the matrix has never seen) most likely reads audio the same way, but that is not known: warn.
    measured = [b["torchaudio"] for b in ctx.matrix.companions.get("torchaudio_builds", [])]
    newest = max((as_tuple(major_minor(v)) for v in measured), default=())
    known = as_tuple(major_minor(release)) <= newest
    severity = Severity.BLOCKING if known else Severity.WARNING
    finding = Finding("torchaudio-needs-torchcodec", severity, params, evidence)
    return block_or_warn(finding, [ctx.matrix.fact_status("companions.yaml", f"audio_io[{row['torchaudio_min']}]")])
