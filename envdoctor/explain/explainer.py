"""explain as a function: input -> Explanation (+ links to this machine); the CLI only renders it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, List, Optional, Sequence

from envdoctor.errors import UsageError
from envdoctor.explain.combine import MachineLink, link
from envdoctor.explain.matcher import Explanation, explain_stream
from envdoctor.fileio.safeio import UnsafePathError, open_regular
from envdoctor.matrix.views import KnownError
from envdoctor.model import CheckReport


@dataclass
class ExplainResult:
    name: str
    explanation: Explanation
    machine: Optional[CheckReport] = None
    machine_note: Optional[str] = None  # why the machine was not checked
    links: List[MachineLink] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0: a known error was found and explained; 1: nothing known found (or nothing to read)."""
        return 0 if self.explanation.matches else 1


def localized(texts: Dict[str, str], lang: str) -> str:
    """A known error's text in `lang`, else English, else whatever language the matrix has."""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


def _open(path: str) -> BinaryIO:
    if path == "-":
        stdin = sys.stdin
        if stdin is None or stdin.isatty():
            raise UsageError("error.explain_no_input")
        return stdin.buffer

    try:
        # A FIFO would block the open until a writer comes and a device never ends: only regular
        # files by name (a pipe still works through `explain -`).
        return os.fdopen(open_regular(path), "rb")
    except UnsafePathError as exc:
        if exc.reason == "missing":
            raise UsageError("error.explain_unreadable", path=path, detail="file not found") from exc
        raise exc.as_error() from exc
    except FileNotFoundError as exc:
        raise UsageError("error.explain_unreadable", path=path, detail="file not found") from exc
    except OSError as exc:
        raise UsageError("error.explain_unreadable", path=path, detail=exc.strerror or str(exc)) from exc


def explain_input(path: str, known: Sequence[KnownError]) -> Explanation:
    stream = _open(path)
    try:
        return explain_stream(stream, known)
    except OSError as exc:  # e.g. a directory, or a device that fails mid-read
        raise UsageError("error.explain_unreadable", path=path, detail=exc.strerror or str(exc)) from exc
    finally:
        if stream is not getattr(sys.stdin, "buffer", None):
            stream.close()


def explain(path: str, known: Sequence[KnownError], machine: Optional[CheckReport] = None,
            machine_note: Optional[str] = None) -> ExplainResult:
    explanation = explain_input(path, known)
    name = "stdin" if path == "-" else path
    return ExplainResult(name, explanation, machine, machine_note, link(explanation.matches, machine))
