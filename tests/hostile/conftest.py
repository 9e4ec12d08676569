"""The hostile-input suite: bad files, devices, FIFOs, symlink loops, tampered journals and reports.

Every case runs the real command line in a child process (as a user would) with a wall-clock bound,
and is classified: a clear error (exit 3, a message, no traceback), the right answer, a crash
("Unexpected error", a traceback, a signal), a hang (the bound ran out), a wrong answer or data lost.
The tests assert the outcome each case must have; the tally of what was seen is printed at the end
(and written to $ENVDOCTOR_HOSTILE_TALLY when set) for the issue's closing note.

An exit code in 0..2 only says the command finished: a case counts as a right answer when its test's own
assertions passed too, and as a wrong answer when they failed (a clear error likewise). The tally shows
both lines, so a command that exits 0 with the wrong answer is seen as what it is.

The whole hostile suite runs with HOME, the default cache and TMPDIR of the children moved to folders of its
own; at the end, those and the repository must be as they were (`_nothing_written_outside`).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
TALLY: Dict[str, List[str]] = collections.defaultdict(list)
CLASSES = ("inputs", "clear-error", "right-answer", "exit-0..2", "crash", "hang", "wrong-answer", "data-lost",
           "wrote-outside")
# Cases waiting for their test's verdict: test id -> [(case, provisional class)].
PENDING: Dict[str, List[Tuple[str, str]]] = collections.defaultdict(list)


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
    # Only the test's assertions can say whether the answer was right (settle() after the test).
    return "exit-0..2" if outcome.returncode in (0, 1, 2) else "wrong-answer"


def settle(test_id: str, passed: bool) -> None:
    """The test's verdict decides its cases: an exit 0..2 is a right answer only when the assertions
    passed; a clear error whose test failed (the wrong message, a file changed) is a wrong answer."""
    for case, kind in PENDING.pop(test_id, []):
        if kind == "exit-0..2":
            record(case, "exit-0..2")
            record(case, "right-answer" if passed else "wrong-answer")
        elif kind == "clear-error":
            record(case, "clear-error" if passed else "wrong-answer")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or report.failed or report.when == "teardown":
        settle(item.nodeid, report.passed)  # at the call; or the setup that failed; or a teardown's own runs


class Cli:
    """Runs `python -m envdoctor ARGS` and records the case in the tally."""

    def __init__(self, tmp_path: Path, test_id: str = "") -> None:
        self.tmp_path = tmp_path
        self.test_id = test_id

    def __call__(self, case: str, args: Sequence[str], expect: str = "error", env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None, timeout: float = 30, unset: Sequence[str] = (),
                 close: Sequence[int] = (), max_file_bytes: Optional[int] = None) -> Outcome:
        """`close`: standard descriptors (0, 1) the child starts with closed (`<&-`, `>&-`).
        `max_file_bytes`: RLIMIT_FSIZE of the child (and its children): a write past it fails as on a
        full disk (EFBIG; Python ignores SIGXFSZ)."""

        def prepare() -> None:
            for fd in close:
                os.close(fd)
            if max_file_bytes is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

        environ = dict(os.environ, PYTHONPATH=str(REPO), LANG="C.UTF-8")
        environ.pop("PYTEST_CURRENT_TEST", None)  # the test id can be long; the child needs none of it
        for name in unset:
            environ.pop(name, None)
        environ.update(env or {})
        try:
            done = subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, timeout=timeout,
                                  env=environ, cwd=cwd or str(self.tmp_path), stdin=subprocess.DEVNULL,
                                  preexec_fn=prepare if close or max_file_bytes is not None else None)
            outcome = Outcome(case, done.returncode, done.stdout.decode("utf-8", "replace"),
                              done.stderr.decode("utf-8", "replace"), False)
        except subprocess.TimeoutExpired as exc:
            outcome = Outcome(case, None, (exc.stdout or b"").decode("utf-8", "replace"),
                              (exc.stderr or b"").decode("utf-8", "replace"), True)
        kind = classify(outcome, expect)
        if kind != "killed-on-purpose":
            record(case, "inputs")
        if kind in ("exit-0..2", "clear-error") and self.test_id:
            PENDING[self.test_id].append((case, kind))
        elif kind == "exit-0..2":
            record(case, kind)  # no test to ask (a helper's own run): counted, never as right
        else:
            record(case, kind)
        return outcome


@pytest.fixture
def cli(tmp_path: Path, request: pytest.FixtureRequest) -> Cli:
    return Cli(tmp_path, request.node.nodeid)


LABELS = {"right-answer": "right-answer (exit 0..2 and the test's assertions passed)",
          "exit-0..2": "exit-0..2 (finished; says nothing about the answer)"}


def tally_lines() -> List[str]:
    return [f"{LABELS.get(name, name)}: {len(TALLY.get(name, []))}" for name in CLASSES]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not TALLY.get("inputs"):
        return
    terminalreporter.write_sep("-", "hostile-input tally")
    for line in tally_lines():
        terminalreporter.write_line(line)
    for name in ("crash", "hang", "wrong-answer", "data-lost", "wrote-outside"):
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


# -- nothing outside the temporary folders -----------------------------------------------------------

WATCH_SKIP = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache"}


def tree_state(folder: Path) -> Dict[str, str]:
    """Every entry under folder (but tools' caches): relative path -> kind, size and mtime. Cheaper than
    hashing a repository; a write changes the mtime."""
    out: Dict[str, str] = {}
    if not os.path.lexists(folder):
        return out
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in WATCH_SKIP]
        for name in dirs + files:
            path = os.path.join(current, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out[os.path.relpath(path, folder)] = f"{st.st_mode:o}:{st.st_size}:{st.st_mtime_ns}"
    return out


def outside_roots(home: Path, tmp: Path) -> Dict[str, Path]:
    """Where a command that escaped its temporary folders would write: the user's home (the suite's own,
    which this process and the children get: the default cache `~/.cache/envdoctor`, Downloads and the
    rest land there), the repository (the current folder of in-process runs), and the children's TMPDIR
    (left-overs). The real home is not watched: other programs on the machine write there."""
    return {"home": home, "tmpdir": tmp, "repository": REPO}


@pytest.fixture(scope="package", autouse=True)  # this package's tests only, in a run with others too
def _nothing_written_outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    base = tmp_path_factory.mktemp("outside")
    home, tmp = base / "home", base / "tmp"
    home.mkdir()
    tmp.mkdir()
    roots = outside_roots(home, tmp)
    before = {name: tree_state(path) for name, path in roots.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))  # the children's home and default cache (`~/.cache/envdoctor`)
        patch.delenv("XDG_CACHE_HOME", raising=False)
        patch.setenv("TMPDIR", str(tmp))
        yield
    after = {name: tree_state(path) for name, path in roots.items()}
    changed = []
    for name in roots:
        if name == "tmpdir":
            left = sorted(set(after[name]) - set(before[name]))
            changed += [f"{name}: left {rel}" for rel in left[:10]]
            continue
        for rel in sorted(set(before[name]) | set(after[name])):
            if before[name].get(rel) != after[name].get(rel):
                changed.append(f"{name}: {rel}")
    for line in changed:
        record(line, "wrote-outside")
    assert not changed, "written outside the suite's temporary folders:\n" + "\n".join(changed[:40])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runtime with a fake torch 2.6.0+cu124, made once per module and copied into each case's bundle."""
    from tests.support.fake_torch import FakeTorch, make_runtime

    base = tmp_path_factory.mktemp("template")
    make_runtime(base / "runtime", FakeTorch(version="2.6.0+cu124"))
    return base / "runtime"

