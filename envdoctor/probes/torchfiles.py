"""torch and friends, read from the runtime's files: torch/version.py and *.dist-info names.

Nothing is imported or executed: version.py is parsed as text, so a broken or foreign-platform
(Windows bundle checked from Linux) runtime can still be described.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Iterable, List, Optional, Tuple

from envdoctor.model import Distribution, Runtime, TorchBuild

_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+?)\.(dist-info|egg-info)$")
_CUDNN_DLL = re.compile(r"^cudnn(?:64)?_(\d+)\.dll$", re.IGNORECASE)
_CUDNN_SO = re.compile(r"^libcudnn\.so\.(\d+(?:\.\d+)*)$")


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_distributions(site_packages: Iterable[str]) -> Tuple[Distribution, ...]:
    found: Dict[str, Distribution] = {}
    for site in site_packages:
        try:
            entries = sorted(os.listdir(site))
        except OSError:
            continue
        for entry in entries:
            match = _DIST_INFO.match(entry)
            if match:
                name = normalize_name(match.group("name"))
                found.setdefault(name, Distribution(name, match.group("version"), os.path.join(site, entry)))
    return tuple(sorted(found.values(), key=lambda d: d.name))


# One top-level assignment of a plain string or None: `__version__ = '2.6.0+cu124'`,
# `cuda: Optional[str] = '12.4'`. Read line by line with a regular expression, not ast.parse: a damaged
# or hostile version.py (NUL bytes, ten thousand nested brackets) makes ast raise ValueError or
# RecursionError, and on Python 3.9/3.10 can crash the interpreter outright.
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=\n]{0,80})?=\s*"
                         r"""(?:'([^'\\\n]*)'|"([^"\\\n]*)"|(None))\s*(?:#.*)?""")
MAX_VERSION_PY_BYTES = 1024 * 1024


def parse_version_py(text: str) -> Dict[str, Optional[str]]:
    """Top-level string/None assignments of torch/version.py, without executing or parsing it as Python."""
    values: Dict[str, Optional[str]] = {}
    for line in text.splitlines():
        if len(line) > 1000:
            continue
        found = _ASSIGNMENT.fullmatch(line.rstrip())
        if found:
            name, single, double, none = found.groups()
            values[name] = None if none else (single if single is not None else double)
    return values


def split_local(version: str) -> Tuple[str, Optional[str]]:
    release, _, local = version.partition("+")
    return release, (local or None)


def find_torch_dir(runtime: Runtime) -> Optional[str]:
    for site in runtime.site_packages:
        candidate = os.path.join(site, "torch")
        if os.path.isfile(os.path.join(candidate, "version.py")):
            return candidate
    return None


def read_torch_build(runtime: Runtime, distributions: Tuple[Distribution, ...]) -> Optional[TorchBuild]:
    torch_dir = find_torch_dir(runtime)
    if torch_dir is None:
        return None
    from envdoctor.safeio import read_head

    try:
        data = read_head(os.path.join(torch_dir, "version.py"), MAX_VERSION_PY_BYTES)
    except OSError:
        return None
    values = parse_version_py(data.decode("utf-8", errors="replace"))
    version = values.get("__version__")
    if not version:
        dist = next((d for d in distributions if d.name == "torch"), None)
        version = dist.version if dist else "unknown"
    release, local = split_local(version)
    cuda = values.get("cuda")
    return TorchBuild(
        version=version,
        release=release,
        local=local,
        cuda=cuda,
        hip=values.get("hip"),
        git_version=values.get("git_version"),
        cudnn=_cudnn_version(torch_dir, distributions),
        location=torch_dir,
    )


def _cudnn_version(torch_dir: str, distributions: Tuple[Distribution, ...]) -> Optional[str]:
    """cuDNN comes as an nvidia-cudnn-cuXX wheel (Linux) or as DLLs inside torch/lib (Windows)."""
    for dist in distributions:
        if dist.name.startswith("nvidia-cudnn-cu"):
            return dist.version
    try:
        names = os.listdir(os.path.join(torch_dir, "lib"))
    except OSError:
        return None
    for name in sorted(names):
        match = _CUDNN_DLL.match(name) or _CUDNN_SO.match(name)
        if match:
            return match.group(1)
    return None


def cuda_binaries(runtime: Runtime, torch_dir: Optional[str]) -> List[str]:
    """Directories whose shared libraries may carry CUDA kernels: torch/lib and friends.

    Scanning whole site-packages would read thousands of unrelated files; these are the packages
    GPT-SoVITS loads CUDA code from.
    """
    dirs: List[str] = []
    if torch_dir:
        dirs.append(os.path.join(torch_dir, "lib"))
    for site in runtime.site_packages:
        for package in ("torchaudio/lib", "torchvision", "onnxruntime/capi", "xformers"):
            path = os.path.join(site, package)
            if os.path.isdir(path):
                dirs.append(path)
    return [d for d in dirs if os.path.isdir(d)]
