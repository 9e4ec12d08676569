"""`envdoctor explain`: read a traceback or a whole WebUI log and say which known error it shows.

reader   streams any input as numbered text lines (UTF-8, GBK/GB18030, UTF-16, UTF-32; binary/empty found)
         in bounded memory, whatever its size or line length
matcher  matches the lines against the matrix's known errors, keeps evidence and error-looking lines
combine  links each match to what envdoctor sees on this machine (check's findings)

May be imported by: cli, doctor (known errors in smoke output), support.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from envdoctor.explain.matcher import explain_text
from envdoctor.explain.service import localized
from envdoctor.invocation import retarget
from envdoctor.matrix.loader import load_matrix


def explain_for_report(text: str, lang: str = "en", known: Optional[Sequence[Any]] = None) -> Optional[Dict[str, Any]]:
    """The first known error in TEXT, for `envdoctor report` (known: the matrix's known errors; default:
    the matrix in use)."""
    if known is None:
        known = load_matrix().known_errors
    found = explain_text(text, known)
    if not found.matches:
        return None
    match = found.matches[0]
    return {"code": match.error.code, "title": localized(match.error.title, lang),
            "cause": localized(match.error.cause, lang), "fix": retarget(localized(match.error.fix, lang)),
            "source": match.error.source, "line": match.line_no,
            "evidence": match.line, "also": [m.error.code for m in found.matches[1:]]}
