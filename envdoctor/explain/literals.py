"""Literal prefilters for regular expressions: which fixed strings must appear where a pattern matches.

Python's `re` with IGNORECASE scans a 1 MB block at a few MB/s; `bytes.find` on a lowercased copy
runs at memory speed. So each known-error pattern is reduced to a set of literals, one of which
every match contains (e.g. 'nvrtc: error: invalid value for --gpu-architecture'); only lines that
hold one of them are given to the full pattern. A pattern for which no such set can be derived
(every branch needs a literal of at least MIN_LITERAL UTF-8 bytes) is run over the whole block.
"""

from __future__ import annotations

from typing import Any, FrozenSet, List, Optional

try:  # Python 3.11+ names the parser re._parser; older ones sre_parse
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre  # type: ignore[no-redef]

MIN_LITERAL = 3


def _name(op: Any) -> str:
    return str(op).upper()


def _best_run(items: List[Any]) -> Optional[str]:
    best, run = "", []
    for op, av in items:
        if _name(op) == "LITERAL":
            run.append(chr(av))
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    if len(run) > len(best):
        best = "".join(run)
    # Counted in UTF-8 bytes: two Chinese characters (错误) are selective enough.
    return best if len(best.encode("utf-8")) >= MIN_LITERAL else None


def _required(items: List[Any]) -> Optional[FrozenSet[str]]:
    run = _best_run(items)
    if run is not None:
        return frozenset([run])
    for op, av in items:
        name = _name(op)
        if name == "SUBPATTERN":
            found = _required(list(av[-1]))
        elif name == "BRANCH":
            parts = [_required(list(branch)) for branch in av[1]]
            found = None if any(p is None for p in parts) else frozenset().union(*(p for p in parts if p is not None))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and av[0] >= 1:
            found = _required(list(av[2]))
        else:
            found = None
        if found:
            return found
    return None


def required_literals(pattern: str) -> Optional[FrozenSet[bytes]]:
    """Lowercased UTF-8 literals one of which every match of `pattern` contains; None if unknown."""
    try:
        parsed = _sre.parse(pattern)
    except Exception:
        return None
    found = _required(list(parsed))
    if not found:
        return None
    return frozenset(text.lower().encode("utf-8") for text in found)
