"""Which NVRTC torch will load, and its version, read from the installed files.

torch's CUDA version is what it was built with; the NVRTC it compiles jiterator kernels with at run
time is whatever library sits where torch loads it, and users replace it: `pip install
nvidia-cuda-nvrtc-cu12==12.9.86` beside a cu128 torch is the known fix for sm_103/sm_121 (B300, GB10),
and on Windows people copy a newer nvrtc64_120_0.dll into torch\\lib. The NVRTC of the same CUDA major
is what torch links against (libnvrtc.so.12, nvrtc64_120_0.dll), so only that major is looked for.

Where torch finds it, first match wins:
- Windows: torch\\lib\\nvrtc64_<major><minor>_0.dll (torch puts torch\\lib first on the DLL path).
  Its version is in the DLL's version resource ("NVIDIA CUDA 12.9.86 NVRTC Library"); NVIDIA's
  numeric FILEVERSION (6.14.11.9000) is the same for every 12.x.
- Linux: a copy bundled in torch/lib (libnvrtc-<hash>.so.<major>), else the NVIDIA wheel's
  nvidia/cuda_nvrtc/lib (CUDA 11/12) or nvidia/cu13/lib (CUDA 13), which torch's libraries name in
  their RUNPATH. libnvrtc.so's soname carries only the major; the builtins library it opens by name
  beside it carries major.minor (libnvrtc-builtins.so.12.9). The wheel's dist-info gives the full
  version (nvidia-cuda-nvrtc-cu12 12.9.86, nvidia-cuda-nvrtc 13.0.88).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from envdoctor.model import Distribution, Runtime
from envdoctor.probes.peversion import version_strings
from envdoctor.versions import as_tuple, major_minor

_DLL = re.compile(r"^nvrtc64_(\d+)\d_0\.dll$", re.IGNORECASE)  # nvrtc64_120_0.dll: CUDA 12.0 ABI
_DLL_BUILTINS = re.compile(r"^nvrtc-builtins64_(\d+)\.dll$", re.IGNORECASE)
_SO = re.compile(r"^libnvrtc(?:-[0-9a-f]{8})?\.so\.(\d+)$")
_SO_BUILTINS = re.compile(r"^libnvrtc-builtins(?:-[0-9a-f]{8})?\.so\.(\d+)\.(\d+)$")
_RESOURCE_VERSION = re.compile(r"\b(\d{2}\.\d+\.\d+)\b")


@dataclass(frozen=True)
class NvrtcFound:
    version: str  # as precise as the files say: "12.9.86" or "12.9"
    path: str  # the library torch loads
    source: str  # how the version was read, for evidence


def _listing(folder: str) -> List[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _windows(torch_dir: str, major: int) -> Optional[NvrtcFound]:
    lib = os.path.join(torch_dir, "lib")
    names = _listing(lib)
    dll = next((n for n in names if _major(_DLL, n) == major), None)
    if dll is None:
        return None
    path = os.path.join(lib, dll)
    strings = version_strings(path)
    for key in ("ProductName", "FileDescription"):
        match = _RESOURCE_VERSION.search(strings.get(key, ""))
        if match and int(match.group(1).split(".")[0]) == major:
            return NvrtcFound(match.group(1), path, f"{dll} version resource ({key} \"{strings[key]}\")")
    # No readable version resource: the builtins DLL it ships with names major and minor.
    builtins = [n for n in names if _DLL_BUILTINS.match(n)]
    found = (_builtins_dll_version(n) for n in builtins)
    versions = sorted(v for v in found if v is not None and int(v.split(".")[0]) == major)
    if len(versions) == 1:
        return NvrtcFound(versions[0], path, f"{builtins[0]} beside {dll}")
    return None


def _major(pattern: re.Pattern[str], name: str) -> Optional[int]:
    """The CUDA major a library's file name carries (group 1 of PATTERN), None where it does not match."""
    match = pattern.match(name)
    return int(match.group(1)) if match else None


def _builtins_dll_version(name: str) -> Optional[str]:
    match = _DLL_BUILTINS.match(name)
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) < 3:
        return None
    return f"{digits[:-1]}.{digits[-1]}"


def _nvrtc_distribution(distributions: Tuple[Distribution, ...], major: int) -> Optional[Distribution]:
    names = {f"nvidia-cuda-nvrtc-cu{major}", "nvidia-cuda-nvrtc"}
    for dist in distributions:
        if dist.name in names and as_tuple(dist.version)[:1] == (major,):
            return dist
    return None


def _linux(site_packages: Tuple[str, ...], torch_dir: str, distributions: Tuple[Distribution, ...],
           major: int) -> Optional[NvrtcFound]:
    folders = [os.path.join(torch_dir, "lib")]
    for site in site_packages:
        folders += [os.path.join(site, "nvidia", "cuda_nvrtc", "lib"),
                    os.path.join(site, "nvidia", f"cu{major}", "lib")]
    dist = _nvrtc_distribution(distributions, major)
    for folder in folders:
        names = _listing(folder)
        library = next((n for n in names if _major(_SO, n) == major), None)
        if library is None:
            continue
        path = os.path.join(folder, library)
        builtins = [(n, f"{m.group(1)}.{m.group(2)}") for n, m in ((n, _SO_BUILTINS.match(n)) for n in names)
                    if m and int(m.group(1)) == major]
        in_wheel = os.sep + "nvidia" + os.sep in path
        if dist is not None and in_wheel and (not builtins or any(v == major_minor(dist.version)
                                                                   for _n, v in builtins)):
            return NvrtcFound(dist.version, path, f"{dist.name} {dist.version} (dist-info), {library}")
        if len(builtins) == 1:
            return NvrtcFound(builtins[0][1], path, f"{builtins[0][0]} beside {library}")
        if builtins:  # several left behind: the oldest is the one that may be loaded and limits most
            name, version = min(builtins, key=lambda b: as_tuple(b[1]))
            return NvrtcFound(version, path, f"{name} beside {library} (of {len(builtins)} builtins)")
        return None  # a libnvrtc without its builtins: nothing says its version
    return None


def find_nvrtc(runtime: Runtime, torch_dir: Optional[str], torch_cuda: Optional[str],
               distributions: Tuple[Distribution, ...]) -> Optional[NvrtcFound]:
    """The NVRTC torch loads and its version, or None when the files do not tell (then torch's own
    CUDA version is the best guess, as before)."""
    if not torch_dir or not torch_cuda:
        return None
    major_tuple = as_tuple(torch_cuda)[:1]
    if not major_tuple:
        return None
    major = major_tuple[0]
    if runtime.platform == "windows":
        return _windows(torch_dir, major)
    return _linux(runtime.site_packages, torch_dir, distributions, major)
