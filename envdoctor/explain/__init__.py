"""`envdoctor explain`: read a traceback or a whole WebUI log and say which known error it shows.

reader   streams any input as numbered text lines (UTF-8, GBK/GB18030, UTF-16, UTF-32; binary/empty found)
         in bounded memory, whatever its size or line length
matcher  matches the lines against the matrix's known errors, keeps evidence and error-looking lines
combine  links each match to what envdoctor sees on this machine (check's findings)

May be imported by: cli, doctor (known errors in smoke output), support, report (a known error's words).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from envdoctor.explain.explainer import localized
from envdoctor.explain.matcher import explain_text
from envdoctor.matrix.loader import load_matrix
from envdoctor.process.invocation import retarget


def explain_for_report(text: str, lang: str = "en", known: Optional[Sequence[Any]] = None) -> Optional[Dict[str, Any]]:
    """The first known error in TEXT, for `envdoctor report` (known: the matrix's known errors; default:
    the matrix in use)."""
    if known is None:
        known = load_matrix().known_errors
    found = explain_text(text, known)
    if not found.matches:
        return None
    match = found.matches[0]
    return {"code": match.error.code, **_texts(match.error, lang),
            "source": match.error.source, "line": match.line_no,
            "evidence": match.line, "also": [m.error.code for m in found.matches[1:]]}


def known_error_texts(code: str, lang: str, known: Optional[Sequence[Any]] = None) -> Optional[Dict[str, str]]:
    """The title, cause and fix of the known error CODE in LANG (a report's log explained again in the
    reader's language), or None where the matrix (default: the one in use) does not know CODE."""
    if known is None:
        known = load_matrix().known_errors
    error = next((e for e in known if e.code == code), None)
    return _texts(error, lang) if error is not None else None


def _texts(error: Any, lang: str) -> Dict[str, str]:
    return {"title": localized(error.title, lang), "cause": localized(error.cause, lang),
            "fix": retarget(localized(error.fix, lang))}  # its commands as the reader starts envdoctor
