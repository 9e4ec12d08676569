"""Seams to the features a report includes but does not own: the doctor's smoke tests and explain.

Each is one small function that asks the feature's package for its part and says plainly when that
package is not in this build, so `report` works the same before and after those branches land.

Contracts the other packages are expected to offer (one function each):
  envdoctor.doctor.report_section(check_report, options, lang) -> dict
      {"verdict": str, "smoke": [{"name", "status", "summary", "output"}], "findings": [finding dicts]}
  envdoctor.explain.explain_for_report(text, lang) -> dict | None
      {"code", "title", "cause", "fix", "source"} for the error it recognises in `text`
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Callable, Dict, Optional

from envdoctor.errors import EnvdoctorError
from envdoctor.i18n import message


def _feature(module: str, function: str) -> Optional[Callable[..., Any]]:
    try:
        package = importlib.import_module(module)
    except ImportError:
        return None
    found = getattr(package, function, None)
    return found if callable(found) else None


def doctor_section(check_report: Any, options: Any, lang: str) -> Dict[str, Any]:
    """The doctor's results for the report, or why there are none."""
    run = _feature("envdoctor.doctor", "report_section")
    if run is None:
        return {"available": False, "reason": message(lang, "report.doctor.unavailable")}
    try:
        result = run(check_report, options=options, lang=lang)
    except EnvdoctorError as error:
        return {"available": True, "error": message(lang, error.key, **error.params)}
    except Exception as exc:  # the report must still be written when a smoke test breaks envdoctor
        return {"available": True, "error": f"{type(exc).__name__}: {exc}"}
    return {"available": True, **(result if isinstance(result, dict) else {"result": result})}


def explain_text(text: str, lang: str, known_errors: Callable[[], tuple]) -> Optional[Dict[str, Any]]:
    """explain's reading of an error text; until explain lands, the matrix's known-error patterns."""
    explain = _feature("envdoctor.explain", "explain_for_report")
    if explain is not None:
        try:
            reading = explain(text, lang)
        except Exception as exc:
            return {"code": "explain-failed", "title": f"{type(exc).__name__}: {exc}", "by": "explain"}
        return dict(reading, by="explain") if isinstance(reading, dict) else None
    try:
        errors = known_errors()
    except EnvdoctorError:
        return None
    for known in errors:
        try:
            matched = re.search(known.pattern, text, re.IGNORECASE | re.MULTILINE)
        except re.error:
            continue
        if matched:
            pick = lambda texts: texts.get(lang) or texts.get("en", "")  # noqa: E731
            return {"code": known.code, "title": pick(known.title), "cause": pick(known.cause),
                    "fix": pick(known.fix), "source": known.source, "by": "matrix"}
    return None
