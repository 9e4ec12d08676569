"""What envdoctor's probes read from the environment, declared in one place.

An answer is only as fresh as its inputs. The replay of an unchanged check (envdoctor.replay) and the
live probe's cache key are built from these declarations, so a variable a probe reads cannot be left
out of either: a test runs whole checks with a recording environment and fails on any variable that
envdoctor's code reads without a declaration here. Files are the other input; the replay stamps
every file the answer was read from (envdoctor.cli.check.replay_deps).

Standard library only: the replay reads this before importing anything else.
"""

from __future__ import annotations

from typing import Dict, Mapping, Tuple

# probe (or stage of a check) -> variable names it reads
ENV_NAMES: Dict[str, Tuple[str, ...]] = {
    "gpus": ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER"),  # the "what if" override (probes/gpus.py)
    # NVML and the CUDA driver library are found through the loader's search path; which GPUs a
    # CUDA process sees depends on CUDA_VISIBLE_DEVICES (probes/nvml.py).
    "nvml": ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES"),
    "nvidia-smi": ("PATH",),  # shutil.which("nvidia-smi") (probes/nvidia_smi.py)
    # GPT-SoVITS reads these; the check reports a configured workaround from them
    # (gptsovits/mitigations.py, gptsovits/show.py).
    "workarounds": ("is_half", "GPT_SOVITS_SV_MODE", "GPT_SOVITS_G2PW_DEVICE", "TORCH_CUDA_ARCH_LIST"),
    "matrix": ("ENVDOCTOR_MATRIX_DIR",),  # matrix/loader.py
    "cache": ("ENVDOCTOR_CACHE_DIR", "XDG_CACHE_HOME", "LOCALAPPDATA", "HOME"),  # paths.py
    "language": ("ENVDOCTOR_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"),  # i18n
    "terminal": ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES"),  # rendering
    "replay": ("ENVDOCTOR_NO_REPLAY",),
    # Where Windows keeps System32, for the driver fingerprint (probes/windriver.py).
    "driver-fingerprint": ("SystemRoot", "SYSTEMROOT"),
}

# probe -> name prefixes it reads (a family of variables)
ENV_PREFIXES: Dict[str, Tuple[str, ...]] = {
    "overrides": ("ENVDOCTOR_",),  # every override and switch of envdoctor itself
    # The live probe hands the whole environment to the runtime's interpreter; what `import torch`
    # and CUDA answer there depends on these (PATH finds DLLs on Windows, LD_* the .so files on Linux).
    "live": ("CUDA_", "LD_", "PATH", "TORCH_", "PYTORCH_", "NVIDIA_", "PYTHON"),
    "language": ("LC_",),
}

# Probes that pass the whole environment on to a child process (they copy it; their prefixes above
# say which part of it matters).
PASSES_ENVIRONMENT_ON = ("live",)


def declares(name: str) -> bool:
    """Whether some probe declares reading this variable."""
    return any(name in names for names in ENV_NAMES.values()) or any(
        name.startswith(prefix) for prefixes in ENV_PREFIXES.values() for prefix in prefixes)


def declared_environment(environ: Mapping[str, str], probe: str = "") -> Dict[str, str]:
    """The declared variables present in environ: of one probe, or of all of them (probe="")."""
    names = ENV_NAMES.get(probe, ()) if probe else tuple(n for ns in ENV_NAMES.values() for n in ns)
    prefixes = ENV_PREFIXES.get(probe, ()) if probe else tuple(p for ps in ENV_PREFIXES.values() for p in ps)
    return {key: environ[key] for key in sorted(environ) if key in names or key.startswith(prefixes)}
