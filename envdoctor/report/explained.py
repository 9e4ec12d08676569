"""A log's known error in the reader's language, rendered from its code.

report.json stores the code of the known error a log shows (the matrix's errors.yaml key) with the
words it had when written; the renderers draw the words again from the code in the language asked for,
so `report --from en.zip --lang zh_CN` explains the log in Chinese. A code the matrix in use no longer
knows (an older report, a report made with another matrix) keeps the words it was stored with.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

PARTS = ("title", "cause", "fix")


def explanation_texts(explain: Mapping[str, Any], lang: str) -> Dict[str, str]:
    """EXPLAIN's (a report log's `explain` section) title, cause and fix in LANG."""
    stored = {part: str(explain.get(part) or "") for part in PARTS}
    code = explain.get("code")
    if not isinstance(code, str) or not code:
        return stored
    from envdoctor.errors import MatrixError
    from envdoctor.explain import known_error_texts

    try:
        texts = known_error_texts(code, lang)
    except (MatrixError, OSError, ValueError):
        return stored  # no matrix to read: the stored words are still there to show
    if texts is None:
        return stored
    return {part: texts[part] or stored[part] for part in PARTS}
