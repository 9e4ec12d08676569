"""The Windows driver's fingerprint: what changes on disk and in the registry with every NVIDIA driver
install or GPU change, read without NVML (stdlib only: the replay reads it before importing anything).

Windows has no /proc/driver/nvidia. A driver install (or update, or a clean install of the same version)
always
  - writes nvml.dll and nvcuda.dll into System32 (copies from the DriverStore: new file, new creation
    time and file id even where the version is the same), and
  - adds a DriverStore folder FileRepository\\nv*.inf_amd64_<hash> (the hash names the INF, so a new
    version gets a new folder), and
  - rewrites the display adapter's registry key (DriverVersion, DriverDesc = the GPU's name).
A new GPU, even with the same driver, gets its own adapter key. The fingerprint is these three, so any
of those events changes it; it is None (no replay, no GPU cache) where nvml.dll and nvcuda.dll are both
missing or the adapter keys cannot be read.

Paths are built with ntpath and every OS call goes through a seam, so the logic runs in tests on Linux.
"""

from __future__ import annotations

import importlib
import ntpath
import os
from typing import Any, Callable, List, Mapping, Optional, Sequence

DRIVER_DLLS = ("nvml.dll", "nvcuda.dll")
DISPLAY_CLASS = r"SYSTEM\CurrentControlSet\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}"
ADAPTER_VALUES = ("DriverDesc", "DriverVersion", "DriverDate", "MatchingDeviceId", "ProviderName")

Stat = Callable[[str], os.stat_result]
ListDir = Callable[[str], List[str]]
Adapters = Callable[[], Optional[Sequence[str]]]


def system_root(environ: Mapping[str, str]) -> str:
    return environ.get("SystemRoot") or environ.get("SYSTEMROOT") or "C:\\Windows"


def file_stamp(stat: Stat, path: str) -> Optional[str]:
    """Size, last write, creation time (st_ctime on Windows) and file id: a copied-over DLL differs in
    the last three even where a reinstall brings the very same file."""
    try:
        info = stat(path)
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"


def registry_adapters() -> Optional[List[str]]:
    """One line per display adapter key under the display class: its number and ADAPTER_VALUES."""
    try:
        # Windows only; typed as Any because mypy checks this module as Linux, where winreg has no API.
        winreg: Any = importlib.import_module("winreg")
    except ImportError:
        return None
    found: List[str] = []
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, DISPLAY_CLASS) as display_class:
            index = 0
            while True:
                try:
                    name = winreg.EnumKey(display_class, index)
                except OSError:
                    break  # no more subkeys
                index += 1
                if not name.isdigit():
                    continue  # "Properties" and kin: not adapters, and readable only by administrators
                try:
                    with winreg.OpenKey(display_class, name) as adapter:
                        values = []
                        for value in ADAPTER_VALUES:
                            try:
                                values.append(f"{value}={winreg.QueryValueEx(adapter, value)[0]}")
                            except OSError:
                                values.append(f"{value}=")
                except OSError:
                    values = ["unreadable"]
                found.append(name + " " + " ".join(values))
    except OSError:
        return None
    return found


def windows_driver_fingerprint(
    environ: Mapping[str, str],
    stat: Stat = os.stat,
    listdir: ListDir = os.listdir,
    adapters: Adapters = registry_adapters,
) -> Optional[str]:
    system32 = ntpath.join(system_root(environ), "System32")
    dlls = [(name, file_stamp(stat, ntpath.join(system32, name))) for name in DRIVER_DLLS]
    if all(stamp is None for _, stamp in dlls):
        return None  # no NVIDIA driver installed
    keys = adapters()
    if keys is None:
        return None  # cannot tell a GPU change: never replay on a guess
    parts = [f"{name} {stamp or 'missing'}" for name, stamp in dlls]
    repository = ntpath.join(system32, "DriverStore", "FileRepository")
    try:
        folders = sorted(name for name in listdir(repository) if name.lower().startswith("nv"))
        parts += [f"store {name} {file_stamp(stat, ntpath.join(repository, name)) or 'missing'}" for name in folders]
    except OSError:
        parts.append("store unreadable")  # the System32 files and the registry still change with every install
    parts += [f"adapter {line}" for line in sorted(keys)]
    return "\n".join(parts)
