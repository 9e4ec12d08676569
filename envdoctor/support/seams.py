"""What a report takes from features it does not own: the doctor's smoke tests and explain's reading of
a log's last error. Each is one function that turns the feature's result into the report's plain
dicts and never lets the feature break the report (an error becomes a message in the report).

The dependency runs one way, support -> doctor / explain: neither of those knows about reports.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Sequence

# session and explain are called through their modules: the seam tests replace them there.
from envdoctor import explain
from envdoctor.doctor import session
from envdoctor.doctor.catalog import select
from envdoctor.doctor.pipeline import judge_doctor
from envdoctor.errors import EnvdoctorError
from envdoctor.i18n import message
from envdoctor.report.check_data import finding_dict
from envdoctor.report.doctor_view import recommendation_dict, status_text, why_text


def doctor_section(check_report: Any, options: Any, lang: str,
                   progress: Optional[Callable[[Any], None]] = None) -> Dict[str, Any]:
    """The doctor's results for the report: {"available", "verdict", "smoke": [{"name", "test",
    "gpu_index", "status", "summary", "output", ...}], "findings", "recommendation"}, or the error.
    `progress` receives the session's events (doctor.session.Event) as each test starts and ends."""
    try:
        result = _run_doctor(check_report, options, lang, progress)
    except EnvdoctorError as error:
        return {"available": True, "error": message(lang, error.key, **error.params)}
    except Exception as exc:  # the report must still be written when a smoke test breaks envdoctor
        return {"available": True, "error": f"{type(exc).__name__}: {exc}"}
    return {"available": True, **result}


def _run_doctor(check_report: Any, options: Any, lang: str,
                progress: Optional[Callable[[Any], None]]) -> Dict[str, Any]:
    facts = check_report.facts
    results = session.run_smoke_tests(facts, select(), progress=progress)
    report = judge_doctor(facts, results, getattr(options, "matrix_dir", None))
    several = len({r.gpu_index for r in report.smoke}) > 1
    smoke = []
    for r in report.smoke:
        name = f"{r.test}-gpu{r.gpu_index}" if several and r.gpu_index is not None else r.test
        status, why = status_text(r, lang), why_text(r, lang)
        summary = f"{status}: {why}" if why else status
        # The raw error text of each test is its "output" (the report redacts it).
        output = "\n".join(p for p in (r.error or "", json.dumps(r.details, ensure_ascii=False, default=str)) if p)
        smoke.append({"name": name, "test": r.test, "gpu_index": r.gpu_index, "status": r.status,
                      "summary": summary, "output": output, "known_error": r.known_error,
                      "duration_s": r.duration_s})
    own = [f for f in report.check.findings if f.code.startswith("smoke-") or f.code == "prediction-disproved"]
    return {"verdict": report.check.verdict.value, "smoke": smoke,
            "findings": [finding_dict(f, lang) for f in own],
            "recommendation": recommendation_dict(report.recommendation, lang)}


def explain_text(text: str, lang: str, known_errors: Optional[Callable[[], Sequence[Any]]] = None,
                 ) -> Optional[Dict[str, Any]]:
    """explain's reading of an error text (the first known error in it), or None. known_errors: the
    matrix's known errors, asked for only now (default: the matrix in use)."""
    try:
        reading = explain.explain_for_report(text, lang, known_errors() if known_errors else None)
    except EnvdoctorError:
        return None  # no readable matrix: the check's own error already says why
    except Exception as exc:  # a broken matcher must not stop the report
        return {"code": "explain-failed", "title": f"{type(exc).__name__}: {exc}", "by": "explain"}
    return dict(reading, by="explain") if reading is not None else None
