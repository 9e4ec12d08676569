"""GPU facts from `nvidia-smi --query-gpu` (the fallback on Windows and when NVML is unusable)."""

from __future__ import annotations

import shutil
from typing import List, Optional, Tuple

from envdoctor.model import Driver, Gpu, GpuFacts, parse_cc
from envdoctor.probes.interface import SourceUnavailable
from envdoctor.probes.runner import Runner, SubprocessRunner

QUERY_FIELDS = ("index", "name", "uuid", "compute_cap", "memory.total", "driver_version")
OLD_DRIVER_FIELDS = ("index", "name", "uuid", "memory.total", "driver_version")


def parse_query_csv(text: str, fields: Tuple[str, ...] = QUERY_FIELDS) -> Tuple[List[Gpu], Optional[str]]:
    """Parse `--format=csv,noheader,nounits` output. Returns (gpus, driver version)."""
    gpus: List[Gpu] = []
    driver: Optional[str] = None
    for line in text.splitlines():
        if not line.strip():
            continue
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(fields):
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        row = dict(zip(fields, values))
        cc = None
        if row.get("compute_cap") and row["compute_cap"] not in ("[N/A]", "N/A"):
            cc = parse_cc(row["compute_cap"])
        memory = None
        if row.get("memory.total", "").isdigit():
            memory = int(row["memory.total"])
        gpus.append(
            Gpu(int(row["index"]), row["name"], cc, uuid=row.get("uuid") or None, memory_total_mib=memory,
                source="nvidia-smi")
        )
        driver = driver or row.get("driver_version")
    return gpus, driver


class NvidiaSmiSource:
    name = "nvidia-smi"

    def __init__(self, runner: Optional[Runner] = None, executable: Optional[str] = None) -> None:
        self.runner = runner or SubprocessRunner()
        self.executable = executable

    def read(self) -> GpuFacts:
        exe = self.executable or shutil.which("nvidia-smi")
        if not exe:
            raise SourceUnavailable("nvidia-smi not found on PATH")
        for fields in (QUERY_FIELDS, OLD_DRIVER_FIELDS):
            result = self.runner.run(
                [exe, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"], timeout=15
            )
            if result.returncode == 0:
                try:
                    gpus, driver = parse_query_csv(result.stdout, fields)
                except ValueError as exc:
                    raise SourceUnavailable(str(exc)) from exc
                if driver is None:
                    raise SourceUnavailable("nvidia-smi listed no GPU")
                return GpuFacts(tuple(gpus), Driver(driver, None, source=self.name))
            # Drivers older than ~510 reject the compute_cap field; retry without it.
            if "compute_cap" not in (result.stdout + result.stderr):
                break
        detail = (result.stderr or result.stdout or result.start_error or "").strip()
        raise SourceUnavailable(f"nvidia-smi failed: {detail[:200]}")
