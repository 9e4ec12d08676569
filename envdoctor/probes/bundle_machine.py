"""Whose GPU and driver a check judges the runtime against.

Normally this machine's. But a bundle for another OS (a Windows bundle examined from Linux or WSL by
a support engineer) is run on someone else's machine: this machine's GPU and driver say nothing about
it, and mixing them in would give a confident, wrong answer. Its GPU and driver are then what the
examiner says (--assume-gpu/--assume-driver), what the user's own report.json recorded (--facts-from),
or unknown; never this machine's.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Optional, Tuple

from envdoctor.errors import UsageError
from envdoctor.fileio.paths import host_platform
from envdoctor.model import GpuFacts, ProbeAttempt, assumed_line, foreign_bundle_line
from envdoctor.probes.collect import CollectOptions
from envdoctor.probes.gpus import ENV_GPUS, OverrideError, facts_from_json, parse_override


def assumed_gpus(options: CollectOptions) -> Optional[Tuple[GpuFacts, str]]:
    """(facts, origin) from --assume-gpu/--assume-driver or --facts-from; None where neither is given."""
    if options.facts_from:
        return _from_report(options.facts_from), "report"
    if options.assume_gpu or options.assume_driver:
        try:
            facts = parse_override(options.assume_gpu or "none", options.assume_driver)
        except OverrideError as exc:
            raise UsageError("error.gpu_override", detail=str(exc).replace(ENV_GPUS, "--assume-gpu")) from exc
        attempt = ProbeAttempt("assumed", True, assumed_line())
        return GpuFacts(facts.gpus, facts.driver, (attempt,)), "given"
    return None


def _from_report(path: str) -> GpuFacts:
    # Start-up: only `--facts-from` reads a report.
    import zipfile

    from envdoctor.fileio.reportfile import read_report_json

    try:
        envelope = read_report_json(path)
        facts = facts_from_json(envelope["facts"]["gpu"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise UsageError("error.facts_from", path=path, detail=f"{type(exc).__name__}: {exc}") from exc
    attempt = ProbeAttempt("report", True, os.path.basename(path))
    return GpuFacts(facts.gpus, facts.driver, (attempt,))


def foreign_runtime_platform(options: CollectOptions, find: Callable[..., object],
                             host: Optional[str] = None) -> Optional[str]:
    """The runtime's OS where it differs from this machine's; None where it is the same or not found
    (the collection that follows reports a missing runtime properly)."""
    try:
        runtime = find(options.root, options.python)
    except Exception:
        return None
    platform = getattr(runtime, "platform", None)
    return platform if platform and platform != (host or host_platform()) else None


def unknown_machine(platform: str, host: Optional[str] = None) -> GpuFacts:
    reason = foreign_bundle_line(platform, host or host_platform())
    return GpuFacts((), None, (ProbeAttempt("bundle-machine", False, reason),))


def overridden(environ: Optional[Mapping[str, str]] = None) -> bool:
    return (os.environ if environ is None else environ).get(ENV_GPUS) is not None
