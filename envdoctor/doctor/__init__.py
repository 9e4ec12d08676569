"""`envdoctor doctor`: run the operations that break GPT-SoVITS on a new GPU, in child processes.

scripts/   the smoke tests, as source files the runtime's own Python runs (never imported here), and
           _harness.py, the worker that runs them one after another in that Python
catalog    which tests exist, what each stands for, which script and parameters it runs
worker     one worker process: its line protocol, per-test watchdog, bounded output, kill
runner     one test in a worker -> SmokeResult (classification of exits, aborts, hangs)
session    every selected test on every selected GPU: a worker per GPU, GPUs in parallel, progress events
progress   the live view of those events (rich, on the console it is given)
findings   smoke results -> findings, and reconciling check's predictions with what was proven
recommend  facts + smoke results + findings -> the FP16 / v2Pro SV / arch-list / upgrade defaults
"""

from __future__ import annotations

from typing import Any, Dict


def report_section(check_report: Any, options: Any = None, lang: str = "en") -> Dict[str, Any]:
    """The smoke tests for `envdoctor report` (the contract in envdoctor/report/seams.py).

    Runs the default tests on the facts the report's check gathered, judges them with the check's
    findings and returns {"verdict", "smoke": [{"name", "status", "summary", "output"}], "findings",
    "recommendation"}; the raw error text of each test is its "output" (the report redacts it).
    """
    import json

    from envdoctor.doctor.catalog import select
    from envdoctor.doctor.pipeline import judge_doctor
    from envdoctor.doctor.session import run_smoke_tests
    from envdoctor.report.doctor_view import recommendation_dict, status_text, why_text
    from envdoctor.report.envelope import finding_dict

    facts = check_report.facts
    results = run_smoke_tests(facts, select())
    report = judge_doctor(facts, results, getattr(options, "matrix_dir", None))
    several = len({r.gpu_index for r in report.smoke}) > 1
    smoke = []
    for r in report.smoke:
        name = f"{r.test}-gpu{r.gpu_index}" if several and r.gpu_index is not None else r.test
        status, why = status_text(r, lang), why_text(r, lang)
        summary = f"{status}: {why}" if why else status
        output = "\n".join(p for p in (r.error or "", json.dumps(r.details, ensure_ascii=False, default=str)) if p)
        smoke.append({"name": name, "test": r.test, "gpu_index": r.gpu_index, "status": r.status,
                      "summary": summary, "output": output, "known_error": r.known_error,
                      "duration_s": r.duration_s})
    own = [f for f in report.check.findings if f.code.startswith("smoke-") or f.code == "prediction-disproved"]
    return {"verdict": report.check.verdict.value, "smoke": smoke,
            "findings": [finding_dict(f, lang) for f in own],
            "recommendation": recommendation_dict(report.recommendation, lang)}
