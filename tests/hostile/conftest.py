"""The hostile-input suite: bad files, devices, FIFOs, symlink loops, tampered journals and reports.

Every case runs the real command line in a child process (as a user would) with a wall-clock bound,
and is classified: a clear error (exit 3, a message, no traceback), the right answer, a crash
("Unexpected error", a traceback, a signal), a hang (the bound ran out), a wrong answer or data lost.
The tests assert the outcome each case must have; the tally of what was seen is printed at the end
(and written to $ENVDOCTOR_HOSTILE_TALLY when set) for the issue's closing note.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
TALLY: Dict[str, List[str]] = collections.defaultdict(list)
CLASSES = ("inputs", "clear-error", "right-answer", "crash", "hang", "wrong-answer", "data-lost")


@dataclass
class Outcome:
    case: str
    returncode: Optional[int]
    stdout: str
    stderr: str
    hung: bool

    @property
    def crashed(self) -> bool:
        text = self.stdout + self.stderr
        return (self.returncode is not None and self.returncode < 0) or "Traceback" in text \
            or "Unexpected error" in text or "意外错误" in text

    @property
    def clear_error(self) -> bool:
        return self.returncode == 3 and not self.crashed and not self.hung and bool(self.stderr.strip()
                                                                                    or self.stdout.strip())


def record(case: str, kind: str) -> None:
    TALLY[kind].append(case)


def classify(outcome: Outcome, expect: str) -> str:
    if expect == "killed" and outcome.returncode == -9:
        return "killed-on-purpose"  # a kill -9 test's fault injection, not an outcome to tally
    if outcome.hung:
        return "hang"
    if outcome.crashed:
        return "crash"
    if expect == "error" or (expect == "any" and outcome.returncode == 3):
        return "clear-error" if outcome.clear_error else "wrong-answer"
    return "right-answer" if outcome.returncode in (0, 1, 2) else "wrong-answer"


class Cli:
    """Runs `python -m envdoctor ARGS` and records the case in the tally."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def __call__(self, case: str, args: Sequence[str], expect: str = "error", env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None, timeout: float = 30, unset: Sequence[str] = ()) -> Outcome:
        environ = dict(os.environ, PYTHONPATH=str(REPO), LANG="C.UTF-8")
        environ.pop("PYTEST_CURRENT_TEST", None)  # the test id can be long; the child needs none of it
        for name in unset:
            environ.pop(name, None)
        environ.update(env or {})
        try:
            done = subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, timeout=timeout,
                                  env=environ, cwd=cwd or str(self.tmp_path), stdin=subprocess.DEVNULL)
            outcome = Outcome(case, done.returncode, done.stdout.decode("utf-8", "replace"),
                              done.stderr.decode("utf-8", "replace"), False)
        except subprocess.TimeoutExpired as exc:
            outcome = Outcome(case, None, (exc.stdout or b"").decode("utf-8", "replace"),
                              (exc.stderr or b"").decode("utf-8", "replace"), True)
        kind = classify(outcome, expect)
        if kind != "killed-on-purpose":
            record(case, "inputs")
        record(case, kind)
        return outcome


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def tally_lines() -> List[str]:
    return [f"{name}: {len(TALLY.get(name, []))}" for name in CLASSES]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not TALLY.get("inputs"):
        return
    terminalreporter.write_sep("-", "hostile-input tally")
    for line in tally_lines():
        terminalreporter.write_line(line)
    for name in ("crash", "hang", "wrong-answer", "data-lost"):
        for case in TALLY.get(name, []):
            terminalreporter.write_line(f"  {name}: {case}")
    target = os.environ.get("ENVDOCTOR_HOSTILE_TALLY")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump({name: TALLY.get(name, []) for name in CLASSES}, handle, indent=1)


def snapshot(folder: Path, skip: Sequence[str] = (".envdoctor",)) -> Dict[str, str]:
    """Every entry under folder but the tool's own (`skip`): relative path -> what it is (file
    content hash, link target, dir)."""
    import hashlib

    out: Dict[str, str] = {}
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not (current == str(folder) and d in skip)]
        for name in dirs + files:
            path = os.path.join(current, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                out[rel] = "link:" + os.readlink(path)
            elif os.path.isdir(path):
                out[rel] = "dir"
            else:
                with open(path, "rb") as handle:
                    out[rel] = hashlib.sha256(handle.read()).hexdigest()
    return out


def unchanged(case: str, before: Dict[str, str], after: Dict[str, str]) -> bool:
    """True when nothing was lost or changed; records a data-loss case otherwise."""
    if before != after:
        record(case, "data-lost")
        return False
    return True
