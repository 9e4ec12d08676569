"""torch and friends, read from the runtime's files: torch/version.py and *.dist-info names.

Nothing is imported or executed: version.py is read as text, line by line with a bounded regex (never
ast or compile: on Python 3.9/3.10 those can raise RecursionError or crash on hostile bytes), so a
broken or foreign-platform (Windows bundle checked from Linux) runtime can still be described, and a
damaged one (a version.py of NUL bytes, a garbage METADATA, a truncated file) is called damaged rather
than mistaken for a CPU-only build.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Iterable, List, Optional, Tuple

from envdoctor.fileio.safeio import read_head
from envdoctor.model import Distribution, Runtime, TorchBuild
from envdoctor.probes.nvrtc import find_nvrtc

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


# torch/version.py is a few hundred bytes; anything past this is not a version.py to trust.
_MAX_VERSION_PY = 64 * 1024
_MAX_METADATA = 256 * 1024
_MAX_LINE = 400
# NAME [: TYPE] = 'text' | "text" | None   (top level only: no indentation)
_ASSIGNMENT = re.compile(
    r"""^(?P<name>[A-Za-z_][A-Za-z0-9_]{0,63})[ \t]*(?::[ \t]*[A-Za-z_][A-Za-z0-9_.\[\], ]{0,80})?[ \t]*=[ \t]*"""
    r"""(?:(?P<quote>['"])(?P<text>[^'"\\\n]{0,200})(?P=quote)|(?P<none>None))[ \t]*(?:\#.*)?$""")
_VERSION = re.compile(r"^\d+(\.\d+){1,3}([a-z]+\d*)?(\.(dev|post)\d+)?(\+[A-Za-z0-9.]+)?$")
_LOCAL_CUDA = re.compile(r"^cu(\d+)(\d)$")


def parse_version_py(text: str) -> Dict[str, Optional[str]]:
    """Top-level string/None assignments of torch/version.py, without executing or compiling it."""
    values: Dict[str, Optional[str]] = {}
    for line in text[:_MAX_VERSION_PY].splitlines():
        if len(line) > _MAX_LINE:
            continue
        match = _ASSIGNMENT.match(line.rstrip())
        if match:
            values[match.group("name")] = None if match.group("none") else match.group("text")
    return values


def read_bounded(path: str, limit: int) -> Tuple[Optional[bytes], bool]:
    """(first `limit` bytes, whether the file was longer); (None, False) when it cannot be read."""

    try:
        data = read_head(path, limit + 1)  # a FIFO or device named version.py is refused, never waited on
    except OSError:
        return None, False
    return data[:limit], len(data) > limit


def version_py_damage(data: Optional[bytes], too_long: bool, values: Dict[str, Optional[str]]) -> Optional[str]:
    """Why a torch/version.py cannot be trusted, or None for a sound one."""
    if data is None:
        return "version.py cannot be read"
    if not data.strip(b"\0 \t\r\n"):
        return "version.py is empty or all NUL bytes"
    if b"\0" in data:
        return "version.py holds NUL bytes"
    if too_long:
        return f"version.py is larger than {_MAX_VERSION_PY} bytes"
    version = values.get("__version__")
    if not version:
        return "version.py has no __version__"
    if not _VERSION.match(version):
        return f"version.py's __version__ is not a version: {version[:60]!r}"
    if "cuda" not in values:
        return "version.py has no cuda line (truncated?)"
    return None


def metadata_damage(dist: Optional[Distribution]) -> Optional[str]:
    """Why torch's dist-info METADATA cannot be trusted (it names the package and version), or None."""
    if dist is None or not dist.path:
        return None
    data, _ = read_bounded(os.path.join(dist.path, "METADATA"), _MAX_METADATA)
    if data is None:
        return None  # some installers write no METADATA copy we can read; not damage by itself
    head = data[:4096].decode("utf-8", errors="replace")
    fields = {}
    for line in head.splitlines()[:40]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    if b"\0" in data or normalize_name(fields.get("name", "")) != dist.name or not fields.get("version"):
        return "METADATA of the torch distribution is unreadable"
    return None


def split_local(version: str) -> Tuple[str, Optional[str]]:
    release, _, local = version.partition("+")
    return release, (local or None)


def find_torch_dir(runtime: Runtime) -> Optional[str]:
    """The torch package folder: one with version.py, else (a damaged install) one with __init__.py."""
    for marker in ("version.py", "__init__.py"):
        for site in runtime.site_packages:
            candidate = os.path.join(site, "torch")
            if os.path.isfile(os.path.join(candidate, marker)):
                return candidate
    return None


def read_torch_build(runtime: Runtime, distributions: Tuple[Distribution, ...]) -> Optional[TorchBuild]:
    torch_dir = find_torch_dir(runtime)
    if torch_dir is None:
        return None
    data, too_long = read_bounded(os.path.join(torch_dir, "version.py"), _MAX_VERSION_PY)
    text = data.decode("utf-8", errors="replace") if data is not None else ""
    values = parse_version_py(text) if data is not None and b"\0" not in data else {}
    dist = next((d for d in distributions if d.name == "torch"), None)
    damage = version_py_damage(data, too_long, values) or metadata_damage(dist)
    version = values.get("__version__") if not damage or not dist else None
    if not version or not _VERSION.match(version):
        version = dist.version if dist and _VERSION.match(dist.version) else "unknown"
    release, local = split_local(version)
    cuda = values.get("cuda")
    if damage and cuda is None:
        # The folder name of the distribution still says which CUDA build it was (torch-2.6.0+cu124).
        match = _LOCAL_CUDA.match(local or "")
        cuda = f"{int(match.group(1))}.{match.group(2)}" if match else None
    nvrtc = find_nvrtc(runtime, torch_dir, cuda, distributions)
    return TorchBuild(
        version=version,
        release=release,
        local=local,
        cuda=cuda,
        hip=values.get("hip"),
        git_version=values.get("git_version"),
        cudnn=_cudnn_version(torch_dir, distributions),
        location=torch_dir,
        damage=damage,
        machine=wheel_machine(dist.path) if dist else None,
        nvrtc=nvrtc.version if nvrtc else None,
        nvrtc_source=nvrtc.source if nvrtc else None,
    )


def wheel_machine(dist_info: str) -> Optional[str]:
    """The CPU of a wheel from its dist-info WHEEL "Tag:" lines (cp311-cp311-manylinux_2_28_aarch64 ->
    aarch64); None when unread or unknown."""
    try:
        text = read_head(os.path.join(dist_info, "WHEEL"), 64 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.lower().startswith("tag:"):
            tag = line.split(":", 1)[1].strip().lower()
            if tag.endswith(("aarch64", "arm64")):
                return "aarch64"
            if tag.endswith(("x86_64", "amd64")):
                return "x86_64"
    return None


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
    GPT-SoVITS loads CUDA code from. NVIDIA's libraries (cuFFT, cuBLAS, cuDNN...) sit in
    torch/lib on Windows and in site-packages/nvidia/*/lib on Linux.
    """
    dirs: List[str] = []
    if torch_dir:
        dirs.append(os.path.join(torch_dir, "lib"))
    for site in runtime.site_packages:
        for package in ("nvidia", "torchaudio/lib", "torchvision", "onnxruntime/capi", "xformers"):
            path = os.path.join(site, package)
            if os.path.isdir(path):
                dirs.append(path)
    return [d for d in dirs if os.path.isdir(d)]
