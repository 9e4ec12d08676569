"""doctor = check's facts and findings + smoke tests, judged together, + recommended settings."""

from __future__ import annotations

from typing import Optional, Sequence

from envdoctor.check.pipeline import gather_facts
from envdoctor.diagnose.engine import diagnose, gpu_verdicts, overall_verdict
from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import SmokeTest
from envdoctor.doctor.findings import reconcile, smoke_findings, tag_known_errors
from envdoctor.doctor.recommend import recommend
from envdoctor.doctor.session import Progress, run_smoke_tests
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import CheckReport, Facts, GpuFacts
from envdoctor.probes.collect import CollectOptions
from envdoctor.probes.runner import Runner


def judge_doctor(facts: Facts, results: Sequence[m.SmokeResult], matrix_dir: Optional[str] = None) -> m.DoctorReport:
    matrix = load_matrix(matrix_dir)
    results = tag_known_errors(results, matrix.known_errors)
    findings = tuple(reconcile(diagnose(facts, matrix), results)) + tuple(smoke_findings(facts, results))
    check = CheckReport(facts, findings, overall_verdict(findings), gpu_verdicts(facts, findings), matrix.where)
    return m.DoctorReport(check, tuple(results), recommend(facts, results, findings))


def run_doctor(
    options: CollectOptions,
    tests: Sequence[SmokeTest],
    gpus: Optional[GpuFacts] = None,
    select: Optional[Sequence[int]] = None,
    runner: Optional[Runner] = None,
    matrix_dir: Optional[str] = None,
    timeout: Optional[float] = None,
    progress: Optional[Progress] = None,
    extension: Optional[str] = None,
) -> m.DoctorReport:
    facts = gather_facts(options, gpus, select, runner)
    results = run_smoke_tests(facts, tests, runner=runner, timeout=timeout, progress=progress, extension=extension)
    return judge_doctor(facts, results, matrix_dir)
