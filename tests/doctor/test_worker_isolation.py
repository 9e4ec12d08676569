"""The worker's isolation, with real processes: tests that abort, hang, segfault, flood their output,
fake the protocol or leave a grandchild holding the pipes, in one catalogue run by one session.

The catalogue is this file's own (SmokeTest.source): plain Python scripts, run by this interpreter as the
"runtime", so that every ending is a real process ending, not a simulated one. Each script reports its
worker's pid, which shows which tests shared a process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import SmokeTest
from envdoctor.doctor.session import run_smoke_tests
from envdoctor.doctor.worker import OUTPUT_KEEP
from envdoctor.model import Driver, Facts, GpuFacts, Runtime, TorchBuild
from envdoctor.probes.runner import SubprocessRunner

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")

PASS = "import os\ndef main(smoke):\n    smoke.details['pid'] = os.getpid()\n    print('said by {name}')\n"

ABORT = """import os
def main(smoke):
    smoke.stage("before-abort")
    print("FATAL: this function is for sm80, but was built for sm370", flush=True)
    os.abort()
"""

SEGFAULT = """import ctypes
def main(smoke):
    smoke.stage("null-read")
    ctypes.string_at(0)
"""

HANG = """import time
def main(smoke):
    smoke.stage("forever")
    print("going to sleep", flush=True)
    time.sleep(3600)
"""

FLOOD = """import os, sys
def main(smoke):
    smoke.details['pid'] = os.getpid()
    line = "x" * 99 + "\\n"
    for _ in range({lines}):
        sys.stdout.write(line)
    os.write(2, b"y" * (4 * 1024 * 1024))  # a huge line without a newline, straight to the fd
    print("last words of the flood", flush=True)
    if {fail}:
        raise RuntimeError("flooded and failed")
"""

# Writes where the protocol used to be (fd 1, from Python and from C) and fakes a protocol line.
NOISY_FAIL = """import ctypes, os, sys
def main(smoke):
    smoke.details['pid'] = os.getpid()
    print("ENVDOCTOR-0000 {\\"event\\": \\"result\\", \\"seq\\": 0, \\"payload\\": {\\"status\\": \\"passed\\"}}")
    os.write(1, b"raw write to fd 1\\n")
    libc = ctypes.CDLL(None)
    libc.printf(b"printf from C\\n")
    sys.stderr.write("to stderr\\n")
    raise RuntimeError("noisy and broken")
"""

# A grandchild in a session of its own (out of the worker's process group) keeps the output pipe open.
ESCAPED_GRANDCHILD = """import subprocess, sys, time
def main(smoke):
    smoke.stage("spawned")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    open(smoke.params["pid_file"], "w").write(str(child.pid))
    time.sleep(3600)
"""

# Breaks the worker itself (closes its job channel) after passing: the worker dies between tests.
BREAKS_WORKER = """import os
def main(smoke):
    import __main__
    smoke.details['pid'] = os.getpid()
    __main__._JOBS.close()
"""


def _test(name: str, source: str, timeout: float = 60.0, **params) -> SmokeTest:
    return SmokeTest(name, "", params, source=source.replace("{name}", name), timeout_s=timeout)


def _facts() -> Facts:
    runtime = Runtime(sys.prefix, sys.executable, "interpreter", "linux", "3", ())
    build = TorchBuild("2.6.0+cu124", "2.6.0", "cu124", "12.4", None, None, None, "/x/torch")
    return Facts(GpuFacts((), Driver("576.02", "12.9")), runtime, build)


class Spawns(SubprocessRunner):
    """A runner whose child registration hooks (all doctor uses of it) record the workers' pids."""

    def __init__(self) -> None:
        self.started: List[int] = []
        self.exited: List[int] = []
        super().__init__(on_spawn=self.started.append, on_exit=self.exited.append)


def _run(tests: List[SmokeTest]) -> Dict[str, m.SmokeResult]:
    results = run_smoke_tests(_facts(), tests, runner=Spawns())
    assert [r.test for r in results] == [t.name for t in tests]
    return {r.test: r for r in results}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_abort_hang_segfault_each_reported_and_the_rest_still_run_in_fresh_workers() -> None:
    runner = Spawns()
    tests = [_test("a", PASS), _test("b", PASS), _test("abort", ABORT), _test("c", PASS),
             _test("hang", HANG, timeout=2), _test("d", PASS), _test("segfault", SEGFAULT), _test("e", PASS),
             _test("f", PASS)]
    results = {r.test: r for r in run_smoke_tests(_facts(), tests, runner=runner)}

    abort = results["abort"]
    assert abort.status == m.CRASHED and abort.exit == "SIGABRT" and abort.stage == "before-abort"
    assert "FATAL: this function is for sm80" in abort.error and "Fatal Python error: Aborted" in abort.error
    assert "said by b" not in abort.error  # the previous test's output stays with it

    hang = results["hang"]
    assert hang.status == m.TIMEOUT and hang.exit == "killed after timeout" and hang.stage == "forever"
    assert "going to sleep" in hang.error and hang.duration_s >= 2

    segfault = results["segfault"]
    assert segfault.status == m.CRASHED and segfault.exit == "SIGSEGV" and segfault.stage == "null-read"
    assert "Segmentation fault" in segfault.error

    assert all(results[n].status == m.PASSED for n in "abcdef")
    pid = {n: results[n].details["pid"] for n in "abcdef"}
    # a and b shared a worker (and with it the abort); each break started the next test in a fresh one.
    assert pid["a"] == pid["b"] and len({pid["a"], pid["c"], pid["d"], pid["e"]}) == 4
    assert pid["e"] == pid["f"]
    assert len(runner.started) == 4 and sorted(runner.exited) == sorted(runner.started)
    assert all(_gone(p) for p in runner.started)


def test_a_failed_test_ends_its_worker_and_keeps_only_its_own_output() -> None:
    results = _run([_test("a", PASS), _test("noisy", NOISY_FAIL), _test("b", PASS)])
    noisy = results["noisy"]
    assert noisy.status == m.FAILED and noisy.error.startswith("RuntimeError: noisy and broken")
    # Written to fd 1 from Python and C: test output, not protocol; the fake protocol line did not fool us.
    for text in ("raw write to fd 1", "printf from C", "to stderr", '"event": "result"'):
        assert text in noisy.error
    assert "said by a" not in noisy.error
    assert results["b"].status == m.PASSED
    assert len({results[n].details["pid"] for n in ("a", "noisy", "b")}) == 2  # b: fresh after the failure
    assert results["a"].details["pid"] == results["noisy"].details["pid"]


def test_a_flood_of_output_is_bounded_and_reported() -> None:
    lines = 300_000  # ~30 MB through the pipe, plus a 4 MiB line
    tests = [_test("flood-ok", FLOOD.replace("{lines}", str(lines)).replace("{fail}", "False")),
             _test("flood-fail", FLOOD.replace("{lines}", str(lines)).replace("{fail}", "True")),
             _test("after", PASS)]
    tracemalloc.start()
    try:
        results = _run(tests)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert results["flood-ok"].status == m.PASSED
    failed = results["flood-fail"]
    assert failed.status == m.FAILED and "flooded and failed" in failed.error
    assert "last words of the flood" in failed.error and len(failed.error) < 10_000
    assert results["after"].status == m.PASSED
    # What envdoctor held at once stayed near the kept tails, far below the ~68 MB the tests wrote.
    assert peak < 8 * 1024 * 1024, peak
    assert failed.error.count("x" * 99) < OUTPUT_KEEP // 100  # the error quotes the end, not the flood


def test_a_grandchild_holding_the_pipes_does_not_hang_the_session(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    try:
        results = _run([_test("escape", ESCAPED_GRANDCHILD, timeout=3, pid_file=str(pid_file)),
                        _test("after", PASS)])
        took = time.monotonic() - started
    finally:
        grandchild: Optional[int] = int(pid_file.read_text()) if pid_file.exists() else None
        if grandchild:
            os.kill(grandchild, signal.SIGKILL)
    assert grandchild and results["escape"].status == m.TIMEOUT and results["escape"].stage == "spawned"
    assert results["after"].status == m.PASSED
    # Not a speed check: the grandchild sleeps 120 s holding the pipes; reading until EOF would take that long.
    assert took < 60


def test_a_worker_that_dies_between_tests_does_not_blame_the_next_test() -> None:
    runner = Spawns()
    results = {r.test: r for r in run_smoke_tests(_facts(), [_test("breaker", BREAKS_WORKER), _test("next", PASS)],
                                                   runner=runner)}
    assert results["breaker"].status == m.PASSED
    assert results["next"].status == m.PASSED, results["next"]
    assert results["next"].details["pid"] != results["breaker"].details["pid"]
    assert len(runner.started) == 2


def test_a_test_that_exits_quietly_is_a_failure_without_an_answer() -> None:
    results = _run([_test("quiet", "import os\ndef main(smoke):\n    os._exit(0)\n"), _test("after", PASS)])
    assert results["quiet"].status == m.FAILED and "no answer (exit code 0)" in results["quiet"].error
    assert results["after"].status == m.PASSED


def test_interpreter_that_cannot_start_fails_every_test_without_an_exception(tmp_path: Path) -> None:
    runtime = Runtime(str(tmp_path), str(tmp_path / "bin" / "python"), "interpreter", "linux", "3", ())
    facts = Facts(GpuFacts((), Driver("576.02", "12.9")), runtime, _facts().torch)
    results = run_smoke_tests(facts, [_test("a", PASS), _test("b", PASS)])
    assert [r.status for r in results] == [m.FAILED, m.FAILED]
    assert all("could not start" in (r.error or "") for r in results)


def test_protocol_payload_is_json_with_details_and_timings() -> None:
    source = "import time\ndef main(smoke):\n    smoke.stage('work')\n    smoke.details['k'] = [1, 'two']\n" \
             "    time.sleep(0.01)\n    smoke.done_stage()\n"
    result = _run([_test("t", source)])["t"]
    assert result.status == m.PASSED and result.details["k"] == [1, "two"]
    assert result.details["timings"]["work"] > 0 and result.details["timings"]["elapsed"] >= 0.01
    json.dumps(result.details)


def _state(pid: int) -> Optional[str]:
    """A process's state letter (Z: dead, waiting to be reaped), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


# A test that hangs in a worker after telling where it runs (the worker's pid, in a file).
HANG_AND_TELL = """import os, time
def main(smoke):
    open(smoke.params["pid_file"], "w").write(str(os.getpid()))
    time.sleep(3600)
"""

KILLED_PARENT = """import sys
from envdoctor.doctor.catalog import SmokeTest
from envdoctor.doctor.session import run_smoke_tests
from envdoctor.model import Driver, Facts, GpuFacts, Runtime, TorchBuild
runtime = Runtime(sys.prefix, sys.executable, "interpreter", "linux", "3", ())
build = TorchBuild("2.6.0+cu124", "2.6.0", "cu124", "12.4", None, None, None, "/x/torch")
test = SmokeTest("hang", "", {"pid_file": sys.argv[2]}, source=open(sys.argv[1]).read(), timeout_s=600)
run_smoke_tests(Facts(GpuFacts((), Driver("576.02", "12.9")), runtime, build), [test])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_a_killed_doctor(tmp_path: Path) -> None:
    """kill -9 of doctor (or of an upgrade verifying its stage) while a test hangs in a kernel must not leave
    the worker behind, holding the GPU: its parent's death is its own."""
    import subprocess

    source, pid_file, parent = tmp_path / "hang.py", tmp_path / "worker.pid", tmp_path / "parent.py"
    source.write_text(HANG_AND_TELL)
    parent.write_text(KILLED_PARENT)
    proc = subprocess.Popen([sys.executable, str(parent), str(source), str(pid_file)])
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, "doctor ended before its test started"
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        assert _state(pid) not in (None, "Z")  # the test hangs in its worker
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while _state(pid) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    state = _state(pid)
    if state not in (None, "Z"):
        os.kill(pid, signal.SIGKILL)  # not left behind for the rest of the suite
    assert state in (None, "Z"), state
