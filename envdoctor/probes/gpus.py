"""Which GPUs and driver this machine has: override first, then each source in turn.

Order (the first that answers wins; each fact records its source, every attempt is logged):
  1. ENVDOCTOR_GPUS / ENVDOCTOR_DRIVER (users who want to ask "what if", and tests)
  2. NVML through nvidia-ml-py
  3. the Linux driver's files (driver version, GPU names), completed by
  4. nvidia-smi's query output (names, compute capability, memory)
No NVIDIA driver at all is a normal answer: no GPUs, driver None.
"""

from __future__ import annotations

import os
from typing import List, Mapping, Optional, Sequence

from envdoctor.model import Driver, Gpu, GpuFacts, ProbeAttempt, parse_cc
from envdoctor.probes.interface import GpuSource, SourceUnavailable

ENV_GPUS = "ENVDOCTOR_GPUS"
ENV_DRIVER = "ENVDOCTOR_DRIVER"


class OverrideError(ValueError):
    pass


def parse_override(gpus_text: str, driver_text: Optional[str]) -> GpuFacts:
    """ENVDOCTOR_GPUS='NAME@CC[@MEMORY_MIB];...' or 'none'; ENVDOCTOR_DRIVER='VERSION[@CUDA]'."""
    gpus: List[Gpu] = []
    if gpus_text.strip().lower() not in ("", "none"):
        for index, item in enumerate(part for part in gpus_text.split(";") if part.strip()):
            pieces = [p.strip() for p in item.split("@")]
            if len(pieces) < 2:
                raise OverrideError(f"{ENV_GPUS} entry {item!r} needs NAME@CC, e.g. 'NVIDIA GeForce RTX 5060 Ti@12.0'")
            try:
                cc = parse_cc(pieces[1])
                memory = int(pieces[2]) if len(pieces) > 2 and pieces[2] else None
            except ValueError as exc:
                raise OverrideError(f"{ENV_GPUS} entry {item!r}: {exc}") from exc
            gpus.append(Gpu(index, pieces[0], cc, memory_total_mib=memory, source="override"))
    driver = None
    if driver_text and driver_text.strip().lower() != "none":
        version, _, cuda = driver_text.strip().partition("@")
        driver = Driver(version.strip(), cuda.strip() or None, source="override")
    elif gpus:
        # GPUs without a driver cannot run anything; the override must say which driver to assume.
        raise OverrideError(f"{ENV_GPUS} is set: set {ENV_DRIVER} too, e.g. 576.02@12.9")
    return GpuFacts(tuple(gpus), driver, (ProbeAttempt("override", True, ENV_GPUS),))


def default_sources() -> List[GpuSource]:
    from envdoctor.probes.driverfiles import DriverFilesSource
    from envdoctor.probes.nvidia_smi import NvidiaSmiSource
    from envdoctor.probes.nvml import NvmlSource

    return [NvmlSource(), DriverFilesSource(), NvidiaSmiSource()]


def detect_gpus(
    sources: Optional[Sequence[GpuSource]] = None, environ: Optional[Mapping[str, str]] = None
) -> GpuFacts:
    env = os.environ if environ is None else environ
    if env.get(ENV_GPUS) is not None:
        return parse_override(env[ENV_GPUS], env.get(ENV_DRIVER))
    attempts: List[ProbeAttempt] = []
    partial: Optional[GpuFacts] = None
    for source in default_sources() if sources is None else sources:
        try:
            facts = source.read()
        except SourceUnavailable as exc:
            attempts.append(ProbeAttempt(source.name, False, str(exc)))
            continue
        except Exception as exc:  # a source that breaks must not break the check
            attempts.append(ProbeAttempt(source.name, False, f"{type(exc).__name__}: {exc}"))
            continue
        attempts.append(ProbeAttempt(source.name, True, f"{len(facts.gpus)} GPU(s)"))
        if partial is not None:
            facts = _merge(partial, facts)
        if facts.gpus and all(g.compute_capability is not None for g in facts.gpus):
            return GpuFacts(facts.gpus, facts.driver, tuple(attempts))
        partial = facts  # e.g. driver files: version and names, no compute capability yet
    if partial is not None:
        return GpuFacts(partial.gpus, partial.driver, tuple(attempts))
    return GpuFacts((), None, tuple(attempts))


def _merge(first: GpuFacts, second: GpuFacts) -> GpuFacts:
    """Keep the earlier source's driver version; take GPUs from whichever knows capabilities."""
    gpus = second.gpus if second.gpus else first.gpus
    driver = first.driver or second.driver
    if first.driver and second.driver and not first.driver.cuda_version and second.driver.cuda_version:
        driver = Driver(first.driver.version, second.driver.cuda_version, first.driver.source)
    return GpuFacts(gpus, driver)
