"""The check pipeline shared by check, doctor and report: probes -> matrix -> diagnosis."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Optional, Sequence, Tuple

from envdoctor.diagnose.device_choice import environment as device_environment
from envdoctor.diagnose.engine import diagnose, gpu_verdicts, overall_verdict
from envdoctor.errors import UsageError
from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.fileio.paths import cache_dir
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import CheckReport, Facts, GpuFacts
from envdoctor.probes import bundle_machine
from envdoctor.probes.collect import CollectOptions, collect
from envdoctor.probes.driverfiles import driver_fingerprint
from envdoctor.probes.gptsovits_config import device_lines
from envdoctor.probes.gpus import OverrideError, detect_gpus
from envdoctor.probes.runner import Runner
from envdoctor.probes.runtime import find_runtime
from envdoctor.process.timing import Stopwatch


def select_gpus(gpu_facts: GpuFacts, wanted: Optional[Sequence[int]]) -> GpuFacts:
    if not wanted:
        return gpu_facts
    known = {g.index for g in gpu_facts.gpus}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise UsageError("error.gpu_index", index=unknown[0], known=", ".join(map(str, sorted(known))) or "-")
    return replace(gpu_facts, gpus=tuple(g for g in gpu_facts.gpus if g.index in wanted))


def gather_facts(
    options: CollectOptions,
    gpus: Optional[GpuFacts] = None,
    select: Optional[Sequence[int]] = None,
    runner: Optional[Runner] = None,
    watch: Optional[Stopwatch] = None,
) -> Facts:
    watch = watch or Stopwatch()
    origin = "simulated" if gpus is not None else "host"  # given by the caller: the demo's machine
    if gpus is None:
        with watch.stage("gpus"):
            gpus, origin = machine_gpus(options, runner)
    facts = collect(options, runner=runner, gpus=select_gpus(gpus, select), watch=watch)
    facts = replace(facts, gpu_origin=origin)
    if options.python is None:  # a GPT-SoVITS folder (not a bare interpreter): what its settings avoid
        with watch.stage("workarounds"):
            facts = replace(facts, workarounds=configured_workarounds(options.root),
                            device_config=device_lines(options.root))
    if origin in ("host", "override"):
        # CUDA_VISIBLE_DEVICES steers this machine's GPUs only (not a report's or an assumed machine's).
        facts = replace(facts, device_env=device_environment(os.environ))
    return facts


def configured_workarounds(root: Optional[str]) -> dict:
    """What the GPT-SoVITS tree at root (default: the current folder) is configured to avoid."""
    folder = os.path.abspath(root or os.getcwd())
    if not os.path.isfile(os.path.join(folder, "webui.py")):
        return {}
    # Imported only for a GPT-SoVITS folder: a bare runtime's check does not pay for the configure code.
    from envdoctor.gptsovits.mitigations import mitigated

    return mitigated(folder)


def machine_gpus(options: CollectOptions, runner: Optional[Runner] = None) -> Tuple[GpuFacts, str]:
    """The GPU and driver of the machine that runs the runtime, and whose they are (Facts.gpu_origin):
    the command line's (--assume-gpu, --facts-from), else ENVDOCTOR_GPUS's, else this machine's unless
    the runtime is for another OS (then none: they are not this machine's to give)."""
    assumed = bundle_machine.assumed_gpus(options)
    if assumed is not None:
        return assumed
    if bundle_machine.overridden():
        origin = "override"
    else:
        foreign = bundle_machine.foreign_runtime_platform(
            options, lambda root, python: find_runtime(root, python, runner=runner,
                                                       cache=JsonCache(cache_dir(), "facts")))
        if foreign is not None:
            return bundle_machine.unknown_machine(foreign), "unknown"
        origin = "host"
    try:
        return detect_gpus(cache=JsonCache(cache_dir(), "gpus"), fingerprint=driver_fingerprint()), origin
    except OverrideError as exc:
        raise UsageError("error.gpu_override", detail=str(exc)) from exc


def judge(facts: Facts, matrix_dir: Optional[str] = None, watch: Optional[Stopwatch] = None) -> CheckReport:
    watch = watch or Stopwatch()
    with watch.stage("matrix"):
        matrix = load_matrix(matrix_dir)
    with watch.stage("diagnose"):
        findings = tuple(diagnose(facts, matrix))
    return CheckReport(facts, findings, overall_verdict(findings), gpu_verdicts(facts, findings), matrix.where,
                       tuple(watch.stages))


def run_check(
    options: CollectOptions,
    gpus: Optional[GpuFacts] = None,
    select: Optional[Sequence[int]] = None,
    runner: Optional[Runner] = None,
    matrix_dir: Optional[str] = None,
) -> CheckReport:
    watch = Stopwatch()
    return judge(gather_facts(options, gpus, select, runner, watch), matrix_dir, watch)
