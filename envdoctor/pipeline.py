"""The check pipeline shared by check, doctor and report: probes -> matrix -> diagnosis."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Optional, Sequence

from envdoctor.diagnose.engine import diagnose, gpu_verdicts, overall_verdict
from envdoctor.errors import UsageError
from envdoctor.jsoncache import JsonCache
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import CheckReport, Facts, GpuFacts
from envdoctor.paths import cache_dir
from envdoctor.probes.collect import CollectOptions, collect
from envdoctor.probes.driverfiles import driver_fingerprint
from envdoctor.probes.gpus import OverrideError, detect_gpus
from envdoctor.probes.runner import Runner
from envdoctor.timing import Stopwatch


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
    if gpus is None:
        with watch.stage("gpus"):
            try:
                gpus = detect_gpus(cache=JsonCache(cache_dir(), "gpus"), fingerprint=driver_fingerprint())
            except OverrideError as exc:
                raise UsageError("error.gpu_override", detail=str(exc)) from exc
    facts = collect(options, runner=runner, gpus=select_gpus(gpus, select), watch=watch)
    if options.python is None:  # a GPT-SoVITS folder (not a bare interpreter): what its settings avoid
        with watch.stage("workarounds"):
            facts = replace(facts, workarounds=configured_workarounds(options.root))
    return facts


def configured_workarounds(root: Optional[str]) -> dict:
    """What the GPT-SoVITS tree at root (default: the current folder) is configured to avoid."""
    folder = os.path.abspath(root or os.getcwd())
    if not os.path.isfile(os.path.join(folder, "webui.py")):
        return {}
    # Imported only for a GPT-SoVITS folder: a bare runtime's check does not pay for the configure code.
    from envdoctor.gptsovits.mitigations import mitigated

    return mitigated(folder)


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
