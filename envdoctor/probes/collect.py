"""Run the probes a command needs and bundle their facts. No judging happens here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

from envdoctor.jsoncache import JsonCache
from envdoctor.model import BinaryCoverageSummary, Facts, GpuFacts, Runtime
from envdoctor.paths import cache_dir, host_platform
from envdoctor.probes import torchfiles
from envdoctor.probes.gpus import detect_gpus
from envdoctor.probes.live import run_live_probe
from envdoctor.probes.runner import Runner, SubprocessRunner
from envdoctor.probes.runtime import find_runtime
from envdoctor.timing import Stopwatch


@dataclass(frozen=True)
class CollectOptions:
    root: Optional[str] = None
    python: Optional[str] = None
    live: bool = True
    scan: bool = True
    live_timeout: float = 90.0


def scan_binaries(runtime: Runtime, torch_dir: Optional[str], cache: JsonCache) -> tuple:
    """Fat-binary arch counts of the runtime's CUDA libraries (empty when the scanner is absent)."""
    try:
        fatbin = importlib.import_module("envdoctor.probes.fatbin")
    except ImportError:
        return ()
    directories = torchfiles.cuda_binaries(runtime, torch_dir)
    if not directories:
        return ()
    scans = fatbin.scan_paths(directories, cache=fatbin.ScanCache(cache.directory))
    return tuple(
        BinaryCoverageSummary(s.path, dict(s.sass), dict(s.ptx), s.error)
        for s in scans
        if s.sass or s.ptx or (s.error and s.error != "not-elf-or-pe")
    )


def collect(
    options: CollectOptions,
    runner: Optional[Runner] = None,
    gpus: Optional[GpuFacts] = None,
    watch: Optional[Stopwatch] = None,
) -> Facts:
    runner = runner or SubprocessRunner()
    watch = watch or Stopwatch()
    cache = JsonCache(cache_dir(), "facts")
    with watch.stage("runtime"):
        runtime = find_runtime(options.root, options.python, runner=runner, cache=cache)
    if gpus is None:
        with watch.stage("gpus"):
            gpus = detect_gpus()
    with watch.stage("torch-files"):
        distributions = torchfiles.read_distributions(runtime.site_packages)
        torch = torchfiles.read_torch_build(runtime, distributions)
    torch_dir = torch.location if torch else None
    binaries: tuple = ()
    if options.scan:
        with watch.stage("scan"):
            binaries = scan_binaries(runtime, torch_dir, cache)
    live = None
    if options.live:
        with watch.stage("live"):
            live = run_live_probe(runtime, torch_dir, gpus.gpus, runner=runner,
                                  cache=JsonCache(cache_dir(), "live"), timeout=options.live_timeout)
    return Facts(
        gpu=gpus,
        runtime=runtime,
        torch=torch,
        distributions=distributions,
        live=live,
        binaries=binaries,
        host_platform=host_platform(),
    )
