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
import re
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.model import (
    Driver,
    Gpu,
    GpuFacts,
    ProbeAttempt,
    gpu_cache_line,
    gpu_count_line,
    parse_cc,
    revive_lines,
    to_jsonable,
)
from envdoctor.probes.interface import GpuSource, SourceUnavailable

ENV_GPUS = "ENVDOCTOR_GPUS"
ENV_DRIVER = "ENVDOCTOR_DRIVER"


class OverrideError(ValueError):
    pass


_OVERRIDE_CC = re.compile(r"\d{1,2}\.\d|sm_\d{2,3}")
_OVERRIDE_MIB = re.compile(r"\d{1,8}")
_OVERRIDE_DRIVER = re.compile(r"\d{2,4}(?:\.\d{1,4}){0,3}")
_OVERRIDE_CUDA = re.compile(r"\d{1,2}\.\d{1,2}")


def parse_override(gpus_text: str, driver_text: Optional[str]) -> GpuFacts:
    """ENVDOCTOR_GPUS='NAME@CC[@MEMORY_MIB];...' or 'none'; ENVDOCTOR_DRIVER='VERSION[@CUDA]'."""
    gpus: List[Gpu] = []
    if gpus_text.strip().lower() not in ("", "none"):
        for index, item in enumerate(part for part in gpus_text.split(";") if part.strip()):
            pieces = [p.strip() for p in item.split("@")]
            if len(pieces) < 2:
                raise OverrideError(f"{ENV_GPUS} entry {item!r} needs NAME@CC, e.g. 'NVIDIA GeForce RTX 5060 Ti@12.0'")
            # Validated like user input: "12" would read as capability 1.2, "-1.0" or "1e20" as nonsense.
            if not pieces[0] or len(pieces) > 3:
                raise OverrideError(f"{ENV_GPUS} entry {item!r} must be NAME@CC[@MEMORY_MIB]")
            if not _OVERRIDE_CC.fullmatch(pieces[1]):
                raise OverrideError(f"{ENV_GPUS} entry {item!r}: compute capability {pieces[1]!r} must look like "
                                    "8.6 or 12.0 (or sm_120)")
            if len(pieces) > 2 and pieces[2] and not _OVERRIDE_MIB.fullmatch(pieces[2]):
                raise OverrideError(f"{ENV_GPUS} entry {item!r}: memory {pieces[2]!r} must be a whole number of MiB")
            try:
                cc = parse_cc(pieces[1])
                memory = int(pieces[2]) if len(pieces) > 2 and pieces[2] else None
            except ValueError as exc:
                raise OverrideError(f"{ENV_GPUS} entry {item!r}: {exc}") from exc
            if cc[0] < 1 or (memory is not None and memory <= 0):
                raise OverrideError(f"{ENV_GPUS} entry {item!r}: out of range")
            gpus.append(Gpu(index, pieces[0], cc, memory_total_mib=memory, source="override"))
    driver = None
    if driver_text and driver_text.strip().lower() != "none":
        version, _, cuda = driver_text.strip().partition("@")
        if not _OVERRIDE_DRIVER.fullmatch(version.strip()) or (cuda.strip() and not _OVERRIDE_CUDA.fullmatch(
                cuda.strip())):
            raise OverrideError(f"{ENV_DRIVER}={driver_text!r} is not a driver version like 576.02 or 576.02@12.9")
        driver = Driver(version.strip(), cuda.strip() or None, source="override")
    elif gpus:
        # GPUs without a driver cannot run anything; the override must say which driver to assume.
        raise OverrideError(f"{ENV_GPUS} is set: set {ENV_DRIVER} too, e.g. 576.02@12.9")
    return GpuFacts(tuple(gpus), driver, (ProbeAttempt("override", True, ENV_GPUS),))


def default_sources() -> List[GpuSource]:
    # Start-up: ENVDOCTOR_GPUS, a report's facts and the demo never ask the driver (NVML, nvidia-smi).
    from envdoctor.probes.driverfiles import DriverFilesSource
    from envdoctor.probes.nvidia_smi import NvidiaSmiSource
    from envdoctor.probes.nvml import NvmlSource

    return [NvmlSource(), DriverFilesSource(), NvidiaSmiSource()]


def facts_from_json(data: dict) -> GpuFacts:
    """GpuFacts from their JSON form (a cached answer, a report's facts). That JSON is a file anyone can
    edit: every field is checked for its type, and anything else is a ValueError naming the field, never
    a made-up GPU ("sm_ab" from a string) that a verdict could block on."""
    def text(value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where} must be a non-empty string, not {value!r:.60}")
        return value

    def number(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a whole number, not {value!r:.60}")
        return value

    def optional_text(value: Any, where: str) -> Optional[str]:
        return None if value is None else text(value, where)

    def optional_number(value: Any, where: str) -> Optional[int]:
        return None if value is None else number(value, where)

    if not isinstance(data, dict) or not isinstance(data.get("gpus"), list):
        raise ValueError("gpu facts must be an object with a list 'gpus'")
    gpus = []
    for i, g in enumerate(data["gpus"]):
        where = f"gpus[{i}]"
        if not isinstance(g, dict):
            raise ValueError(f"{where} must be an object")
        raw_cc = g.get("compute_capability")
        cc: Optional[Tuple[int, int]] = None
        if raw_cc is not None:
            if not isinstance(raw_cc, list) or len(raw_cc) != 2:
                raise ValueError(f"{where}.compute_capability must be [major, minor], not {raw_cc!r:.60}")
            cc = (number(raw_cc[0], where + ".compute_capability"), number(raw_cc[1], where + ".compute_capability"))
        gpus.append(Gpu(number(g.get("index"), where + ".index"), text(g.get("name"), where + ".name"), cc,
                        optional_text(g.get("uuid"), where + ".uuid"),
                        optional_number(g.get("memory_total_mib"), where + ".memory_total_mib"),
                        text(g.get("source", "cache"), where + ".source")))
    raw = data.get("driver")
    driver = None
    if raw:
        if not isinstance(raw, dict):
            raise ValueError("driver must be an object")
        version = text(raw.get("version"), "driver.version")
        if not _OVERRIDE_DRIVER.fullmatch(version.strip()):
            raise ValueError(f"driver.version is not a driver version like 576.02: {version!r:.60}")
        cuda = optional_text(raw.get("cuda_version"), "driver.cuda_version")
        if cuda is not None and not _OVERRIDE_CUDA.fullmatch(cuda.strip()):
            raise ValueError(f"driver.cuda_version is not a CUDA version like 12.9: {cuda!r:.60}")
        driver = Driver(version, cuda, text(raw.get("source", "unknown"), "driver.source"))
    return GpuFacts(tuple(gpus), driver)


def detect_gpus(
    sources: Optional[Sequence[GpuSource]] = None,
    environ: Optional[Mapping[str, str]] = None,
    cache: Optional[JsonCache] = None,
    fingerprint: Optional[str] = None,
) -> GpuFacts:
    """Ask the sources in order. With a cache and a driver fingerprint, an answer given under the
    same fingerprint is reused (the attempt says so); without a fingerprint, nothing is cached."""
    env = os.environ if environ is None else environ
    if env.get(ENV_GPUS) is not None:
        return parse_override(env[ENV_GPUS], env.get(ENV_DRIVER))
    # "gpus2": entries keep their lines as data (to_jsonable(lines=True)); an older envdoctor reads "gpus:".
    key = "gpus2:" + fingerprint if (cache is not None and fingerprint) else None
    if key is not None:
        hit = revive_lines(cache.get(key))  # type: ignore[union-attr]
        if isinstance(hit, dict):
            try:
                facts = facts_from_json(hit)
            except (KeyError, TypeError, ValueError):
                facts = None
            if facts is not None:
                note = ProbeAttempt("cache", True, gpu_cache_line())
                return GpuFacts(facts.gpus, facts.driver, (note,) + tuple(ProbeAttempt(**a) for a in hit["attempts"]))
    facts = _ask_sources(sources)
    if key is not None and facts.gpus and all(g.compute_capability for g in facts.gpus):
        cache.put(key, to_jsonable(facts, lines=True))  # type: ignore[union-attr]
    return facts


def _ask_sources(sources: Optional[Sequence[GpuSource]]) -> GpuFacts:
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
        attempts.append(ProbeAttempt(source.name, True, gpu_count_line(len(facts.gpus))))
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
