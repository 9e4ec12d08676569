"""Raw evidence a support report carries besides the check: nvidia-smi -q, the package list, the
GPT-SoVITS configuration and launcher scripts, selected environment variables.

Readers only: nothing here redacts or renders (document.py redacts everything these return).
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from envdoctor.fileio.safeio import read_head
from envdoctor.gptsovits import layout
from envdoctor.model import Facts
from envdoctor.probes.runner import Runner
from envdoctor.report import fileshape
from envdoctor.report.fileshape import FileShape
from envdoctor.report.logs import inside

MAX_FILE_BYTES = 256 * 1024
NVIDIA_SMI_TIMEOUT_S = 15.0

# Variables that change what torch, CUDA or GPT-SoVITS do (names only; secret-named ones get redacted).
_ENV_PREFIXES = ("CUDA_", "TORCH_", "PYTORCH_", "NVIDIA_", "CUDNN_", "NCCL_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_",
                 "GRADIO_", "ENVDOCTOR_", "PYTHON", "CONDA_", "OMP_", "MKL_", "LC_", "OPENAI_", "GITHUB_", "GH_")
_ENV_NAMES = frozenset({"PATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "LANG", "is_half", "infer_device", "version",
                        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
                        "ALL_PROXY", "all_proxy", "is_share", "webui_port_main"})

_BAT_SET = re.compile(r'(?i)^\s*set\s+"?([A-Za-z_][A-Za-z0-9_]*)=([^"\r\n]*)"?\s*$')
_PS_SET = re.compile(r'(?i)^\s*\$env:([A-Za-z_][A-Za-z0-9_]*)\s*=\s*["\']?([^"\'\r\n]*)["\']?\s*$')
_SH_SET = re.compile(r'^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=["\']?([^"\'\r\n]*)["\']?\s*$')


def selected_environment(name: str) -> bool:
    return name in _ENV_NAMES or name.upper().startswith(_ENV_PREFIXES)


def nvidia_smi_query(runner: Runner, executable: Optional[str] = None) -> Optional[str]:
    """`nvidia-smi -q` as text (its Timestamp line dropped: the report has its own), None when absent."""
    exe = executable or shutil.which("nvidia-smi")
    if not exe:
        return None
    result = runner.run([exe, "-q"], timeout=NVIDIA_SMI_TIMEOUT_S)
    text = result.stdout
    if result.returncode != 0 or result.timed_out or result.start_error:
        reason = result.start_error or ("timed out" if result.timed_out else f"exit code {result.returncode}")
        text = f"{text}\n{result.stderr}\n[nvidia-smi -q failed: {reason}]".strip() + "\n"
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("Timestamp")]
    return bound("\n".join(lines).rstrip() + "\n")


def package_list(facts: Facts) -> str:
    return "".join(f"{d.name}=={d.version}\n" for d in facts.distributions)


def bound(text: str, limit: int = MAX_FILE_BYTES) -> str:
    """At most `limit` bytes of UTF-8, cut at a line, with a note saying so."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[:limit].decode("utf-8", errors="ignore")
    cut = cut[:cut.rfind("\n") + 1] or cut
    return cut + f"[... cut: {len(data)} bytes in all, the first {limit} kept ...]\n"


# What a GPT-SoVITS folder holds (one is enough: a source checkout has no runtime/, a bare bundle
# may miss a launcher). A home or Downloads folder has none of them, and nothing is collected there.
BUNDLE_MARKERS = ("runtime", layout.WEBUI_PY, "GPT_SoVITS", layout.BAT, layout.PS1, layout.SH)


def looks_like_bundle(root: Optional[str]) -> bool:
    return bool(root) and os.path.isdir(str(root)) and any(
        os.path.exists(os.path.join(str(root), name)) for name in BUNDLE_MARKERS)


def _read_shaped(path: str, root: str) -> Optional[Tuple[str, FileShape]]:
    """The file's text with its own line endings, and its shape (encoding, BOM, line endings); None for
    a file that is a link out of the bundle (it is not the bundle's)."""
    if not inside(path, root):
        return None
    try:
        data = read_head(path, MAX_FILE_BYTES + 1)  # a FIFO or device is refused, never waited on
    except OSError:
        return None
    text, shape = fileshape.decode(data)
    return bound(text), shape


def gptsovits_root(root: Optional[str], python: Optional[str], runtime_root: Optional[str]) -> Optional[str]:
    """The GPT-SoVITS folder the check looked at: --root, the cwd, or the folder holding runtime/."""
    if root:
        return root
    if runtime_root and os.path.basename(os.path.normpath(runtime_root)).lower() == "runtime":
        return os.path.dirname(os.path.normpath(runtime_root))
    return None if python else os.getcwd()


def gptsovits_state(root: Optional[str]) -> Tuple[Dict[str, Any], Dict[str, str], Dict[str, FileShape]]:
    """(summary, {evidence path: text}, {evidence path: shape}) of the GPT-SoVITS configuration and
    launchers under root. Each text keeps its line endings; its shape writes it back as it was."""
    summary: Dict[str, Any] = {"root": root, "files": [], "settings": {}, "launchers": {},
                               "bundle": looks_like_bundle(root)}
    files: Dict[str, str] = {}
    shapes: Dict[str, FileShape] = {}
    if not root or not summary["bundle"]:
        return summary, files, shapes  # not a GPT-SoVITS folder: nothing of it is the user's bundle
    for relative in layout.REPORT_FILES:
        found = _read_shaped(os.path.join(root, *relative.split("/")), root)
        if found is None:
            continue
        text, shape = found
        summary["files"].append(relative)
        name = "evidence/gptsovits/" + relative.replace("/", "_")
        files[name], shapes[name] = text, shape
        if relative.endswith("tts_infer.yaml"):
            summary["settings"].update(_tts_infer_settings(text))
        elif relative in (layout.BAT, layout.PS1, layout.SH):
            sets = (_SH_SET,) if relative == layout.SH else (_BAT_SET, _PS_SET)
            summary["launchers"][relative] = _launcher_state(text, sets)
    return summary, files, shapes


def _tts_infer_settings(text: str) -> Dict[str, str]:
    from envdoctor.fileio.safeyaml import YamlTooComplex, safe_load

    try:
        data = safe_load(text)  # bounded: an alias bomb would hang the report, deep nesting crash it
    except (yaml.YAMLError, YamlTooComplex) as exc:
        return {"error": f"tts_infer.yaml: {(str(exc).splitlines() or [''])[0]}"}
    custom = data.get("custom") if isinstance(data, dict) else None
    if not isinstance(custom, dict):
        return {}
    return {f"custom.{key}": str(custom[key]) for key in ("device", "is_half", "version") if key in custom}


def _launcher_state(text: str, sets: Tuple[re.Pattern, ...]) -> Dict[str, Any]:
    """Variables a launcher sets and the line that starts Python."""
    env: Dict[str, str] = {}
    command: List[str] = []
    for line in text.splitlines():
        match = next((m for m in (pattern.match(line) for pattern in sets) if m), None)
        if match:
            env[match.group(1)] = match.group(2)
        elif re.search(r"(?i)python(\.exe)?\b.*\.py\b", line):
            command.append(line.strip())
    return {"env": env, "python": command}


def environment_subset(environ: Mapping[str, str]) -> Dict[str, str]:
    return {name: environ[name] for name in sorted(environ) if selected_environment(name)}
