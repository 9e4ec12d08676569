"""One child of the runtime's Python that runs smoke tests one after another (scripts/_harness.py).

The child imports torch once, for its first test, and answers each test on a line protocol over its
stdout; everything the tests print (Python, C, faulthandler) arrives on its stderr, cut per test by
end markers. This side keeps the per-test watchdog: a test that hangs gets the whole process group
killed, one that aborts or segfaults ends the child, and either way the test's outcome carries the last
stage it announced and the end of its output. Reading never blocks on the child: two reader threads
fill bounded buffers, and once the child is gone we wait for them only briefly (a grandchild that
escaped the process group may hold the pipes open for ever).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Tuple

from envdoctor.doctor.catalog import worker_source
from envdoctor.probes.runner import _decode, _kill_tree
from envdoctor.process.childlife import die_with_parent

OUTPUT_KEEP = 64 * 1024  # bytes of each test's output kept (the end: where the error is)
LINE_LIMIT = 1024 * 1024  # a protocol line longer than this is not ours
_CHUNK = 64 * 1024
_READER_GRACE_S = 1.0  # how long to wait for the output pipe after the child is gone
_EXIT_GRACE_S = 3.0  # how long a child that closed its protocol may take to exit before it is killed


@dataclass
class Outcome:
    """How one test ended in the worker, before classification (runner.judge)."""

    payload: Optional[Dict[str, Any]] = None  # the worker's answer; None when it never came
    stage: Optional[str] = None  # the last stage announced
    output: str = ""  # the end of what the test printed
    returncode: Optional[int] = None  # set when the child ended during this test
    timed_out: bool = False
    start_error: Optional[str] = None
    started: bool = False  # the worker acknowledged the test (False: it died before reaching it)
    duration_s: float = 0.0


class _Tail:
    """The last `keep` bytes written, and how many were dropped before them."""

    def __init__(self, keep: int = OUTPUT_KEEP) -> None:
        self.keep = keep
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        extra = len(self.data) - self.keep
        if extra > 0:
            del self.data[:extra]
            self.dropped += extra

    def text(self) -> str:
        body = _decode(bytes(self.data))
        return f"[… {self.dropped} bytes of output cut …]\n{body}" if self.dropped else body


class _OutputCollector:
    """Reads the child's stderr; splits it into each test's share at the "<prefix> END <seq>" markers."""

    def __init__(self, stream: IO[bytes], prefix: str) -> None:
        self._stream = stream
        self._head = ("\n" + prefix + " END ").encode("utf-8")
        self._cond = threading.Condition()
        self._tails: Dict[int, _Tail] = {}
        self._current = 0  # the seq of the test whose output arrives now
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="envdoctor-smoke-output", daemon=True)
        self._thread.start()

    def _tail(self, seq: int) -> _Tail:
        return self._tails.setdefault(seq, _Tail())

    def add(self, chunk: bytes) -> None:
        """Output that arrived elsewhere (stray lines on the protocol stream): the current test's."""
        with self._cond:
            self._tail(self._current).add(chunk)

    def _read(self) -> None:
        pending = bytearray()
        margin = len(self._head) + 24
        try:
            while True:
                chunk = os.read(self._stream.fileno(), _CHUNK)
                if not chunk:
                    break
                pending += chunk
                pending = self._split(pending, margin)
        except (OSError, ValueError):
            pass
        _close(self._stream)  # here, by the only thread that reads it: never under a blocked read
        with self._cond:
            self._tail(self._current).add(bytes(pending))
            self._closed = True
            self._cond.notify_all()

    def _split(self, pending: bytearray, margin: int) -> bytearray:
        with self._cond:
            while True:
                at = pending.find(self._head)
                end = pending.find(b"\n", at + len(self._head)) if at >= 0 else -1
                if at < 0 or end < 0:
                    break
                self._tail(self._current).add(bytes(pending[:at]))
                try:
                    self._current = int(pending[at + len(self._head):end]) + 1
                except ValueError:  # not our marker after all: keep it as output
                    self._tail(self._current).add(bytes(pending[at:end + 1]))
                del pending[:end + 1]
                self._cond.notify_all()
            if at < 0 and len(pending) > margin:
                # No marker in sight: all but a marker's length is plain output (bounded memory on a flood).
                self._tail(self._current).add(bytes(pending[:-margin]))
                del pending[:-margin]
        return pending

    def finished(self, seq: int, wait_s: float) -> str:
        """The output of test `seq`, once its end marker (or the end of the stream) was read."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while self._current <= seq and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            tail = self._tails.pop(seq, None)
        return tail.text() if tail else ""

    def rest(self, seq: int, wait_s: float) -> str:
        """Everything from test `seq` on, after the child ended (it cannot mark an end when it crashed)."""
        self._thread.join(wait_s)
        with self._cond:
            parts = [self._tails.pop(s).text() for s in sorted(self._tails) if s >= seq]
        return "\n".join(p for p in parts if p)


class _ProtocolReader:
    """Reads the child's stdout: protocol lines go to a queue, anything else is test output."""

    def __init__(self, stream: IO[bytes], prefix: str, stray: Callable[[bytes], None]) -> None:
        self._stream = stream
        self._prefix = (prefix + " ").encode("utf-8")
        self._stray = stray
        self.messages: queue.Queue[Optional[Dict[str, Any]]] = queue.Queue()
        threading.Thread(target=self._read, name="envdoctor-smoke-protocol", daemon=True).start()

    def _read(self) -> None:
        pending = bytearray()
        try:
            while True:
                chunk = os.read(self._stream.fileno(), _CHUNK)
                if not chunk:
                    break
                pending += chunk
                while True:
                    end = pending.find(b"\n")
                    if end < 0:
                        break
                    self._line(bytes(pending[:end]))
                    del pending[:end + 1]
                if len(pending) > LINE_LIMIT:
                    self._stray(bytes(pending))
                    pending.clear()
        except (OSError, ValueError):
            pass
        _close(self._stream)
        if pending:
            self._line(bytes(pending))
        self.messages.put(None)  # the end of the stream: the child is gone or going

    def _line(self, line: bytes) -> None:
        if line.startswith(self._prefix):
            try:
                message = json.loads(line[len(self._prefix):].decode("utf-8", errors="replace"))
            except ValueError:
                message = None
            if isinstance(message, dict):
                self.messages.put(message)
                return
        self._stray(line + b"\n")


def _close(stream: IO[bytes]) -> None:
    try:
        stream.close()
    except OSError:
        pass


def _popen_options() -> Dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    # Its own process group (a timeout kills everything it started), and on Linux it dies with envdoctor:
    # a worker left behind by a killed doctor or upgrade would hold the GPU, or hang in a kernel, for good.
    return {"start_new_session": True, "preexec_fn": die_with_parent()}


@dataclass(eq=False)  # identity: a session keeps its live workers in a set
class Worker:
    """A worker process for one GPU (the env carries CUDA_VISIBLE_DEVICES), reused until a test breaks."""

    python: str
    env: Mapping[str, str]
    on_spawn: Optional[Callable[[int], None]] = None
    on_exit: Optional[Callable[[int], None]] = None
    jobs_done: int = 0
    _proc: Optional[subprocess.Popen] = field(default=None, repr=False)
    _seq: int = 0
    _prefix: str = ""

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def argv(self) -> List[str]:
        return [self.python, "-I", "-c", worker_source(), self._prefix]

    def start(self) -> Optional[str]:
        """Start the process; the reason it could not start, or None."""
        self._prefix = "ENVDOCTOR-" + uuid.uuid4().hex[:16]  # no test output can fake a protocol line
        try:
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, env=dict(self.env), **_popen_options())
        except OSError as exc:
            return str(exc)
        if self.on_spawn:
            self.on_spawn(self._proc.pid)
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._output = _OutputCollector(self._proc.stderr, self._prefix)
        self._protocol = _ProtocolReader(self._proc.stdout, self._prefix, self._output.add)
        return None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def run(self, name: str, source: str, params: Mapping[str, Any], timeout: float) -> Outcome:
        """Send one test and wait for its answer, the child's end, or the timeout."""
        started = time.monotonic()
        outcome = Outcome()
        if self._proc is None:
            outcome.start_error = self.start()
            if outcome.start_error:
                return outcome
        seq = self._seq
        self._seq += 1
        job = json.dumps({"seq": seq, "name": name, "source": source, "params": dict(params)}) + "\n"
        try:
            assert self._proc is not None and self._proc.stdin is not None
            self._proc.stdin.write(job.encode("utf-8"))
            self._proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the child is gone: its end of the protocol says so below
        deadline = started + timeout
        while True:
            try:
                message = self._protocol.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                outcome.timed_out = True
                outcome.output = self._output.rest(seq, _READER_GRACE_S)
                break
            if message is None:  # the protocol stream ended: the child died during (or before) this test
                outcome.returncode = self._wait_exit()
                outcome.output = self._output.rest(seq, _READER_GRACE_S)
                break
            if message.get("seq") != seq:
                continue  # "ready", or an old test's late line
            event = message.get("event")
            if event == "start":
                outcome.started = True
            elif event == "stage":
                outcome.stage = message.get("stage") or outcome.stage
            elif event == "result":
                outcome.started = True
                payload = message.get("payload")
                outcome.payload = payload if isinstance(payload, dict) else None
                outcome.output = self._output.finished(seq, _READER_GRACE_S)
                self.jobs_done += 1
                break
        outcome.duration_s = time.monotonic() - started
        return outcome

    def _wait_exit(self) -> Optional[int]:
        assert self._proc is not None
        try:
            return self._proc.wait(_EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()  # closed its stdout but lives on: not a worker any more
            return self._proc.returncode

    def kill(self) -> None:
        """End the process and everything it started, without waiting for its pipes."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _kill_tree(proc)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable process (D state)
            pass
        self._finish()

    def close(self) -> None:
        """No more tests: let the child leave on its own (it skips teardown), else kill it."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(_EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def _finish(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin:
            try:
                proc.stdin.close()
            except OSError:
                pass
        if self.on_exit:
            self.on_exit(proc.pid)


def spawn_hooks(runner: Any) -> Tuple[Optional[Callable[[int], None]], Optional[Callable[[int], None]]]:
    """The runner's child registration (the upgrade registers children so a fault kill ends them too)."""
    return getattr(runner, "on_spawn", None), getattr(runner, "on_exit", None)
