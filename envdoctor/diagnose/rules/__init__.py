"""One module per rule. Each exposes `evaluate(ctx) -> list[Finding]` and the codes it can emit."""

from __future__ import annotations

from envdoctor.diagnose.rules import (
    arch_coverage,
    audio_backend,
    cpu_only_torch,
    driver,
    fp16_attention,
    g2pw,
    gpu_choice,
    live_probe,
    no_gpu,
    nvrtc,
    other_binaries,
    python_version,
    torch_installed,
    torchaudio_pair,
)

ALL_RULES = (
    no_gpu,
    gpu_choice,
    torch_installed,
    cpu_only_torch,
    driver,
    arch_coverage,
    nvrtc,
    fp16_attention,
    other_binaries,
    g2pw,
    live_probe,
    torchaudio_pair,
    audio_backend,
    python_version,
)
