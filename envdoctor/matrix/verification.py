"""What backs a matrix fact: a primary source, a repeatable measurement, or only a secondary one.

A row may say `verified: true` only when its `source` is an object of kind `primary` (a URL and
what it says) or `measurement` (the command that repeats it and its recorded output, kept under
matrices/measurements/). A plain-string source is a citation without that weight: it can explain
a fact, never make it verified. The loader calls `enforce` on every file, so a hand-edited
`verified: true` without evidence is a load error that names file, line and field, not a silent
upgrade of a guess into a blocker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

PRIMARY = "primary"
MEASUREMENT = "measurement"
SECONDARY = "secondary"
KINDS = (PRIMARY, MEASUREMENT, SECONDARY)

# (the field that claims verification, the field whose source must back it)
_CLAIMS = (("verified", "source"), ("archs_verified", "archs_source"))


@dataclass(frozen=True)
class Citation:
    kind: str  # primary | measurement | secondary
    text: str  # one line for evidence and reports
    url: Optional[str] = None
    record: Optional[str] = None  # measurements/<name>.json for kind measurement


def citation(source: Any) -> Citation:
    """The Citation of a validated `source` value (string or object)."""
    if isinstance(source, dict):
        kind = source.get("kind", SECONDARY)
        parts = [p for p in (source.get("url"), source.get("says"), source.get("command"),
                             source.get("record"), source.get("also")) if p]
        return Citation(kind, " — ".join(parts), source.get("url"), source.get("record"))
    return Citation(SECONDARY, str(source or ""))


def backing_problem(source: Any, record_exists: Optional[Callable[[str], Optional[bool]]] = None) -> Optional[str]:
    """Why this source cannot back `verified: true`, or None when it can."""
    if not isinstance(source, dict):
        return "a plain-text source is secondary; verified: true needs source.kind primary (url + says) " \
               "or measurement (command + record)"
    kind = source.get("kind")
    if kind == PRIMARY:
        missing = [k for k in ("url", "says") if not source.get(k)]
        return f"a primary source needs {' and '.join(missing)}" if missing else None
    if kind == MEASUREMENT:
        missing = [k for k in ("command", "record") if not source.get(k)]
        if missing:
            return f"a measurement needs {' and '.join(missing)}"
        if record_exists is not None and record_exists(source["record"]) is False:
            return f"the recorded output {source['record']} is not kept with the matrix"
        return None
    return f"a source of kind {kind} cannot back verified: true"


def enforce(document: Any, record_exists: Optional[Callable[[str], Optional[bool]]] = None, path: str = "") -> None:
    """Raise SchemaViolation (with line) for every verification claim its source does not back."""
    from envdoctor.matrix.schema import SchemaViolation  # yaml: only when the matrix is (re)validated

    if isinstance(document, dict):
        key_lines = getattr(document, "key_lines", {})
        for claim, source_key in _CLAIMS:
            if claim not in document:
                continue
            value = document[claim]
            line = key_lines.get(claim, getattr(document, "line", 0))
            where = f"{path}.{claim}" if path else claim
            if not isinstance(value, bool):
                raise SchemaViolation(where, line, f"expected boolean, got {value!r}")
            if value:
                problem = backing_problem(document.get(source_key), record_exists)
                if problem:
                    raise SchemaViolation(where, line, problem)
        for key, value in document.items():
            enforce(value, record_exists, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            enforce(item, record_exists, f"{path}[{index}]")
