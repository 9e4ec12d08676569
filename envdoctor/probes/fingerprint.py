"""The driver's own description of itself and its GPUs, as one string (stdlib only: the replay of an
unchanged check reads it before importing anything else). Linux: /proc/driver/nvidia. Windows: the
driver's DLLs, DriverStore folders and display adapter keys (envdoctor.probes.windriver)."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Optional


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def driver_fingerprint(root: str = "/", platform: Optional[str] = None,
                       environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """What changes whenever the driver or the GPUs change, for this OS; None where it cannot be read."""
    if (platform or sys.platform) == "win32":
        from envdoctor.probes.windriver import windows_driver_fingerprint  # Windows only (winreg)

        return windows_driver_fingerprint(os.environ if environ is None else environ)
    return linux_driver_fingerprint(root)


def linux_driver_fingerprint(root: str = "/") -> Optional[str]:
    """Driver version, and each GPU's model, UUID and bus, from /proc/driver/nvidia.

    Reading these few small files costs far less than starting NVML; while they are unchanged, so
    is what NVML says about names, capabilities and memory. None where the files do not exist.
    """
    proc = os.path.join(root, "proc", "driver", "nvidia")
    version = read_text(os.path.join(proc, "version"))
    try:
        buses = sorted(os.listdir(os.path.join(proc, "gpus")))
    except OSError:
        return None
    if version is None:
        return None
    parts = [version]
    for bus in buses:
        info = read_text(os.path.join(proc, "gpus", bus, "information"))
        if info is None:
            return None
        parts.append(f"{bus}\n{info}")
    return "\n".join(parts)
