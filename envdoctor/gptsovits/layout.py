"""Where a GPT-SoVITS installation keeps the files configure touches, and which generation it is.

Generations differ in what they honour (read from upstream RVC-Boss/GPT-SoVITS history):
- "v2-2024" (e.g. the v2-240821 bundle): `config.py` reads env `is_half` and only forces it off for old
  cards and CPU; no speaker verification (`GPT_SoVITS/sv.py` does not exist).
- "v2pro-2025-06" (the v2pro-20250604 bundle): same `config.py` logic; `sv.py` exists (v2Pro models)
  and has no switch.
- "autodtype-2025-06" (upstream main since 2025-06-05): `config.py` picks the dtype per GPU
  (`get_device_dtype_sm`) and overwrites the `is_half` it read from the environment; `sv.py` as above.
Detection looks at features, not hashes; the anchored patches check exact text separately.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from envdoctor.fileio.safeio import folder_problem, read_head
from envdoctor.gptsovits.textfile import ConfigureError

V2_2024 = "v2-2024"
V2PRO_2025 = "v2pro-2025-06"
AUTODTYPE_2025 = "autodtype-2025-06"
UNKNOWN = "unknown"

CONFIG_PY = "config.py"
SV_PY = "GPT_SoVITS/sv.py"
G2PW_PY = "GPT_SoVITS/text/g2pw/onnx_api.py"  # where G2PW's onnxruntime session is made
TTS_YAML = "GPT_SoVITS/configs/tts_infer.yaml"
BAT = "go-webui.bat"
PS1 = "go-webui.ps1"
SH = "go-webui.sh"
STATE_DIR = ".envdoctor/configure"
WEBUI_PY = "webui.py"
# Every file GPT-SoVITS takes its FP16 / speaker-verification / device settings from: what configure
# may write, what a check's answer depends on, what a support report should carry.
SETTINGS_FILES = (CONFIG_PY, SV_PY, TTS_YAML, BAT, PS1, SH)
WEIGHTS_JSON = "weight.json"  # the GPT and SoVITS weights the WebUI last chose
# What a support report carries from the GPT-SoVITS folder: the settings and the chosen weights.
REPORT_FILES = (*SETTINGS_FILES, WEIGHTS_JSON)


@dataclass(frozen=True)
class Installation:
    root: str
    generation: str
    has_sv: bool  # v2Pro speaker verification code present
    config_overrides_env: bool  # config.py replaces an explicit is_half with its own choice
    posix_python: Optional[str]  # runtime/bin/python3 etc., relative to root, for the shell launcher
    # Which OS the bundle's own runtime is built for ("windows": runtime/python.exe; "posix":
    # runtime/bin/python3), None for neither or both (a source checkout): launchers follow it, not the host.
    bundle_os: Optional[str] = None

    def path(self, relative: str) -> str:
        return os.path.join(self.root, *relative.split("/"))

    def exists(self, relative: str) -> bool:
        return os.path.exists(self.path(relative))


def _read(path: str) -> str:

    try:
        return read_head(path, 16 * 1024 * 1024).decode("utf-8", errors="replace")  # never blocks on a FIFO
    except OSError:
        return ""


def detect(root: Optional[str]) -> Installation:
    folder = os.path.abspath(root or os.getcwd())
    problem = folder_problem(folder)
    if problem == "missing":
        raise ConfigureError("configure.error.root_missing", path=folder)
    if problem is not None:  # a file, a FIFO, a symlink loop: say what it is, not "does not exist"
        raise ConfigureError(f"safety.path.{problem}", path=folder, detail=problem, limit="")
    if not (os.path.isfile(os.path.join(folder, WEBUI_PY)) and os.path.isdir(os.path.join(folder, "GPT_SoVITS"))):
        raise ConfigureError("configure.error.not_gptsovits", path=folder)
    config_text = _read(os.path.join(folder, CONFIG_PY))
    has_sv = os.path.isfile(os.path.join(folder, *SV_PY.split("/")))
    # The per-GPU dtype choice that overwrites is_half (function and assignment names as upstream spells them).
    overrides = "get_device_dtype_sm" in config_text or "is_half = any(" in config_text
    if overrides:
        generation = AUTODTYPE_2025
    elif 'os.environ.get("is_half"' in config_text:
        generation = V2PRO_2025 if has_sv else V2_2024
    else:
        generation = UNKNOWN
    posix_python = _posix_python(folder)
    return Installation(folder, generation, has_sv, overrides, posix_python, _bundle_os(folder, posix_python))


def _bundle_os(root: str, posix_python: Optional[str]) -> Optional[str]:
    windows = os.path.isfile(os.path.join(root, "runtime", "python.exe"))
    if windows == (posix_python is not None):
        return None
    return "windows" if windows else "posix"


def _posix_python(root: str) -> Optional[str]:
    for candidate in ("runtime/bin/python3", "runtime/bin/python"):
        if os.path.isfile(os.path.join(root, *candidate.split("/"))):
            return candidate
    return None
