"""Driver facts from the Linux kernel module's files (no NVML, no nvidia-smi needed).

Parsers are pure functions of the file text so they are tested on real captured text.
"""

from __future__ import annotations

import glob
import os
import re
from typing import List, Optional

from envdoctor.model import Driver, Gpu, GpuFacts
from envdoctor.probes.fingerprint import driver_fingerprint  # noqa: F401  (re-exported)
from envdoctor.probes.fingerprint import read_text as _read
from envdoctor.probes.interface import SourceUnavailable

_PROC_VERSION = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)")
_SYS_VERSION = re.compile(r"^\s*(\d+\.\d+(?:\.\d+)?)\s*$")


def parse_proc_version(text: str) -> Optional[str]:
    """Driver version from /proc/driver/nvidia/version ('NVRM version: ... Kernel Module  580.95.05 ...')."""
    match = _PROC_VERSION.search(text)
    return match.group(1) if match else None


def parse_sys_version(text: str) -> Optional[str]:
    """Driver version from /sys/module/nvidia/version (just the number)."""
    match = _SYS_VERSION.match(text)
    return match.group(1) if match else None


def parse_gpu_information(text: str) -> dict:
    """Fields of /proc/driver/nvidia/gpus/<bus>/information ('Model:  NVIDIA H100 80GB HBM3')."""
    fields = {}
    for line in text.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    return fields


class DriverFilesSource:
    name = "driver-files"

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def _path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def read(self) -> GpuFacts:
        version = None
        origin = ""
        text = _read(self._path("sys", "module", "nvidia", "version"))
        if text is not None:
            version, origin = parse_sys_version(text), "/sys/module/nvidia/version"
        if version is None:
            text = _read(self._path("proc", "driver", "nvidia", "version"))
            if text is not None:
                version, origin = parse_proc_version(text), "/proc/driver/nvidia/version"
        if version is None:
            raise SourceUnavailable("no NVIDIA kernel module version file")
        gpus: List[Gpu] = []
        pattern = self._path("proc", "driver", "nvidia", "gpus", "*", "information")
        for index, info_path in enumerate(sorted(glob.glob(pattern))):
            fields = parse_gpu_information(_read(info_path) or "")
            name = fields.get("Model")
            if name:
                uuid = fields.get("GPU UUID")
                gpus.append(Gpu(index, name, None, uuid=uuid, source=self.name))
        return GpuFacts(tuple(gpus), Driver(version, None, source=f"{self.name}:{origin}"))
