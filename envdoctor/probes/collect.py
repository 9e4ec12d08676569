"""Run the probes a command needs and bundle their facts. No judging happens here."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Callable, List, Optional

from envdoctor.fileio.jsoncache import JsonCache, file_stamp
from envdoctor.fileio.paths import cache_dir, host_platform
from envdoctor.model import BinaryCoverageSummary, Facts, GpuFacts, Runtime, to_jsonable
from envdoctor.probes import torchfiles
from envdoctor.probes.gpus import detect_gpus
from envdoctor.probes.live import run_live_probe
from envdoctor.probes.runner import Runner, SubprocessRunner
from envdoctor.probes.runtime import find_runtime
from envdoctor.process.timing import Stopwatch


@dataclass(frozen=True)
class CollectOptions:
    root: Optional[str] = None
    python: Optional[str] = None
    live: bool = True
    scan: bool = True
    live_timeout: float = 90.0
    # The GPU and driver of the machine that runs the bundle, where it is not this one (ENVDOCTOR_GPUS
    # syntax), or the report.json (or report zip) that machine's `envdoctor report` wrote.
    assume_gpu: Optional[str] = None
    assume_driver: Optional[str] = None
    facts_from: Optional[str] = None
    # A launcher's check never waits on `import torch`: without a recorded answer the files decide and
    # the live facts are refreshed in the background (envdoctor.check.prelaunch.refresh_in_background).
    live_wait: bool = True
    # Told just before the runtime's interpreter starts (the first check after a runtime change takes
    # seconds there): the command shows what it is doing.
    on_live_start: Optional[Callable[[], None]] = None


_LIBRARY_SUFFIXES = (".so", ".dll", ".pyd")


def _libraries_stamp(directories: List[str]) -> str:
    """(name, size, mtime, inode) of every shared library below the folders: changes when any does."""
    parts = []
    for top in directories:
        for folder, subfolders, files in os.walk(top):
            subfolders.sort()
            for name in sorted(files):
                if name.lower().endswith(_LIBRARY_SUFFIXES) or ".so." in name:
                    parts.append(file_stamp(os.path.join(folder, name)))
    return "\n".join(parts)


def scan_binaries(runtime: Runtime, torch_dir: Optional[str], cache: JsonCache) -> tuple:
    """Fat-binary arch counts of the runtime's CUDA libraries (empty when the scanner is absent).

    The whole set is cached under one key made of every library's stamp, so a warm check costs a
    folder listing and a few stat calls, not one cache file per library.
    """
    directories = torchfiles.cuda_binaries(runtime, torch_dir)
    if not directories:
        return ()
    try:
        fatbin = importlib.import_module("envdoctor.probes.fatbin")
    except ImportError:
        return ()
    # The scanner's version is part of the key: a newer scanner sees more (embedded containers).
    key = f"binaries:v{fatbin.SCANNER_VERSION}:" + _libraries_stamp(directories)
    cached = cache.get(key)
    if isinstance(cached, list):
        try:
            return tuple(
                BinaryCoverageSummary(c["path"], c["sass"], c["ptx"], c["error"],
                                      c.get("embedded_sass", {}), c.get("embedded_ptx", {}), bool(c.get("searched")))
                for c in cached
            )
        except (KeyError, TypeError, AttributeError):
            pass  # a damaged cache entry is a miss
    scans = fatbin.scan_paths(directories, cache=fatbin.ScanCache(cache.directory))
    summaries = tuple(
        s.summary()
        for s in scans
        if s.sass or s.ptx or s.embedded_sass or s.embedded_ptx or (s.error and s.error != "not-elf-or-pe")
    )
    cache.put(key, [to_jsonable(s) for s in summaries])
    return summaries


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
                                  cache=JsonCache(cache_dir(), "live"), timeout=options.live_timeout,
                                  wait=options.live_wait, on_start=options.on_live_start)
    return Facts(
        gpu=gpus,
        runtime=runtime,
        torch=torch,
        distributions=distributions,
        live=live,
        binaries=binaries,
        host_platform=host_platform(),
    )
