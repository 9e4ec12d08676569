"""What envdoctor's probes read from the environment, declared in one place.

An answer is only as fresh as its inputs. The replay of an unchanged check (envdoctor.check.replay) and the
live probe's cache key are built from these declarations, so a variable a probe reads cannot be left
out of either: a test runs whole checks with a recording environment and fails on any variable that
envdoctor's code reads without a declaration here.

Files are the other input, declared the same way (FILE_INPUTS): each probe names what it reads as
patterns below an anchor (the runtime, its site-packages, torch's folder, the GPT-SoVITS folder...).
The replay stamps exactly the files the declarations expand to for a given answer (declared_files), and
a test runs whole checks under an audit hook and fails on any file or folder a probe opens or lists
that no declaration covers (declares_file). A probe that starts reading a new file therefore either
declares it here or fails that test; it can never make a launcher replay a stale answer.

Standard library only: the replay reads this before importing anything else.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

# probe (or stage of a check) -> variable names it reads
ENV_NAMES: Dict[str, Tuple[str, ...]] = {
    "gpus": ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER"),  # the "what if" override (probes/gpus.py)
    # NVML and the CUDA driver library are found through the loader's search path; which GPUs a
    # CUDA process sees depends on CUDA_VISIBLE_DEVICES (probes/nvml.py).
    "nvml": ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES"),
    # GPT-SoVITS' device choice follows CUDA's device list and order (diagnose/device_choice.py).
    "device": ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"),
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


# ---------------------------------------------------------------------------------------------------
# Files. Anchors (filled in by the check from its facts, see envdoctor.check.prelaunch.replay_anchors):
#   python    the runtime's interpreter            runtime   the runtime's folder
#   site      each site-packages folder            torch     torch's package folder
#   torch_dist  torch's dist-info folder
#   binaries  each folder whose CUDA libraries the fat-binary scan reads
#   bundle    the GPT-SoVITS folder                matrix    the compatibility matrix's folder
# A pattern is relative to its anchor: "" is the anchor itself, "*" any name in one folder, "**" any
# depth. A path without a wildcard is stamped even while it does not exist (its creation changes the
# answer). Folders are declared where a probe lists them: a new entry changes a folder's stamp.
FILE_INPUTS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    # probes/runtime.py: the interpreter, its folder (listed for python3X.dll), pyvenv.cfg's version.
    # A POSIX prefix's lib/ is listed to find lib/python3.X/site-packages.
    "runtime": (("python", ""), ("runtime", ""), ("runtime", "pyvenv.cfg"), ("runtime", "lib"), ("site", "")),
    # probes/torchfiles.py: the dist-info folders' names (site-packages is listed), torch's own files,
    # torch's METADATA, read to tell a damaged install from a CPU-only one, and its WHEEL tag (the
    # machine a build is for: aarch64 arch lists differ).
    "torch-files": (("torch", "version.py"), ("torch", "__init__.py"), ("torch", "lib"),
                    ("site", "torch-*.dist-info"), ("torch_dist", ""), ("torch_dist", "METADATA"),
                    ("torch_dist", "WHEEL")),
    # probes/fatbin/ through diagnose/scan_result.py: every library with CUDA code below these folders.
    "fatbin-scan": (("binaries", ""), ("binaries", "**/"), ("binaries", "**/*.so"), ("binaries", "**/*.so.*"),
                    ("binaries", "**/*.dll"), ("binaries", "**/*.pyd")),
    # probes/nvrtc.py: which NVRTC torch will load, from the names in these folders (and the DLL's version
    # resource in torch\lib, stamped with the scanned libraries).
    "nvrtc": (("site", "nvidia"), ("site", "nvidia/cuda_nvrtc"), ("site", "nvidia/cuda_nvrtc/lib"),
              ("site", "nvidia/cu*"), ("site", "nvidia/cu*/lib")),
    # gptsovits/mitigations.py, gptsovits/layout.py: what the GPT-SoVITS tree is configured to avoid.
    "workarounds": (("bundle", ""), ("bundle", "webui.py"), ("bundle", "GPT_SoVITS"), ("bundle", "config.py"),
                    ("bundle", "GPT_SoVITS/sv.py"), ("bundle", "GPT_SoVITS/configs/tts_infer.yaml"),
                    ("bundle", "GPT_SoVITS/text/g2pw/onnx_api.py"),
                    ("bundle", "go-webui.bat"), ("bundle", "go-webui.ps1"), ("bundle", "go-webui.sh"),
                    ("bundle", ".envdoctor"), ("bundle", ".envdoctor/configure"),
                    ("bundle", ".envdoctor/configure/*")),
    # cli/main.py: an interrupted upgrade is announced by every command.
    "upgrade-journal": (("bundle", ".envdoctor/upgrade/journal.jsonl"),),
    # matrix/loader.py: every YAML file, and the measurement records that verify its rows.
    "matrix": (("matrix", ""), ("matrix", "*.yaml"), ("matrix", "measurements"), ("matrix", "measurements/*")),
}

_WILDCARD = re.compile(r"[*?\[]")


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(path))


def declared_files(anchors: Mapping[str, Sequence[str]]) -> List[str]:
    """Every path the declarations name for these anchors (patterns expanded against the disk)."""
    found: List[str] = []
    for entries in FILE_INPUTS.values():
        for anchor, pattern in entries:
            for base in anchors.get(anchor, ()):
                if not pattern:
                    found.append(base)
                elif not _WILDCARD.search(pattern):
                    found.append(os.path.join(base, *pattern.split("/")))
                else:
                    expanded = glob.glob(os.path.join(glob.escape(base), *pattern.split("/")), recursive=True)
                    found.extend(p.rstrip("/\\") if p.endswith(("/", "\\")) else p for p in expanded)
    return sorted(set(found))


def _pattern_regex(pattern: str) -> str:
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


def declares_file(path: str, anchors: Mapping[str, Sequence[str]]) -> bool:
    """Whether some declaration covers PATH (for the test that records what probes really open)."""
    target = _norm(path).replace(os.sep, "/")
    for entries in FILE_INPUTS.values():
        for anchor, pattern in entries:
            for base in anchors.get(anchor, ()):
                root = _norm(base).replace(os.sep, "/")
                if not pattern:
                    if target == root:
                        return True
                    continue
                if pattern.endswith("/"):  # folders only ("**/": every folder below the anchor)
                    regex = re.escape(root) + "(?:/.*)?" if pattern == "**/" else \
                        re.escape(root) + "/" + _pattern_regex(pattern.rstrip("/"))
                    if not os.path.isdir(path):
                        continue
                else:
                    regex = re.escape(root) + "/" + _pattern_regex(pattern)
                if re.fullmatch(regex, target, flags=re.IGNORECASE if os.name == "nt" else 0):
                    return True
    return False


def anchor_paths(pairs: Iterable[Tuple[str, str]]) -> Dict[str, List[str]]:
    """{anchor: [paths]} from (anchor, path) pairs, absolute, without duplicates."""
    anchors: Dict[str, List[str]] = {}
    for anchor, path in pairs:
        if path:
            full = os.path.abspath(path)
            if full not in anchors.setdefault(anchor, []):
                anchors[anchor].append(full)
    return anchors
