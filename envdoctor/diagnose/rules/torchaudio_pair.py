"""torchaudio must be the release made for this torch, with the same CUDA variant."""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity
from envdoctor.probes.torchfiles import split_local

CODES = ("torchaudio-mismatch",)


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    torch, audio = ctx.facts.torch, ctx.facts.distribution("torchaudio")
    if torch is None or audio is None:
        return []
    audio_release, audio_local = split_local(audio.version)
    series = ctx.torch_series()
    release = series.release(torch.release) if series else None
    expected = release.torchaudio if release else None
    problems = []
    if expected and audio_release != expected:
        problems.append(f"torch {torch.release} pairs with torchaudio {expected}, found {audio_release}")
    if torch.local and audio_local and audio_local != torch.local:
        problems.append(f"torch is +{torch.local}, torchaudio is +{audio_local}")
    if not problems:
        return []
    params = {"torch": torch.version, "torchaudio": audio.version, "expected": expected or "?"}
    return [Finding("torchaudio-mismatch", Severity.WARNING, params, tuple(problems))]
