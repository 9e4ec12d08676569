"""Running another program (the runtime's interpreter, nvidia-smi) with a timeout.

The runner is injectable so tests can substitute a recording one; the real one kills the whole
process tree on timeout so that a hung `import torch` never hangs envdoctor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Tuple


@dataclass(frozen=True)
class RunResult:
    argv: tuple
    returncode: Optional[int]  # None when it timed out or could not start
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    start_error: Optional[str] = None  # why the program could not be started

    @property
    def crashed(self) -> bool:
        """Killed by a signal (POSIX, negative code) or aborted the Windows way (0xC0000409 etc.)."""
        if self.returncode is None:
            return False
        if self.returncode < 0:
            return True
        return self.returncode >= 0xC0000000 or self.returncode in (3, 134, 139)

    @property
    def signal_name(self) -> Optional[str]:
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None


class Runner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        timeout: float,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stdin_text: Optional[str] = None,
    ) -> RunResult: ...


MAX_CAPTURE_BYTES = 4 * 1024 * 1024  # per stream: a child printing 400 MB keeps envdoctor's memory flat
DRAIN_GRACE_S = 2.0  # after the child is gone, how long to wait for pipes that a grandchild still holds


class SubprocessRunner:
    """The real runner: a new process group (POSIX) or process group flag (Windows), killed on timeout.

    `on_spawn`/`on_exit` receive the child's pid (the upgrade's fault tests use them to take children
    down with a killed parent).
    """

    def __init__(self, on_spawn: Optional[Callable[[int], None]] = None,
                 on_exit: Optional[Callable[[int], None]] = None, max_capture: Optional[int] = None) -> None:
        self.on_spawn = on_spawn
        self.on_exit = on_exit
        self.max_capture = max_capture or MAX_CAPTURE_BYTES

    def popen_options(self) -> dict:
        """How the child is started: in a process group of its own, so a timeout ends all it started."""
        if sys.platform == "win32":
            return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
        return {"start_new_session": True}

    def run(
        self,
        argv: Sequence[str],
        timeout: float,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stdin_text: Optional[str] = None,
    ) -> RunResult:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                **self.popen_options(),
            )
        except OSError as exc:
            return RunResult(tuple(argv), None, "", "", time.monotonic() - started, start_error=str(exc))
        if self.on_spawn:
            self.on_spawn(proc.pid)
        try:
            out, err, timed_out = _communicate(proc, _encode(stdin_text), timeout, self.max_capture)
        except BaseException:
            # Ctrl-C reaches only envdoctor (the child has its own session): end the child too.
            _kill_tree(proc)
            proc.wait()
            raise
        finally:
            if self.on_exit:
                self.on_exit(proc.pid)
        if timed_out:
            return RunResult(tuple(argv), None, _decode(out), _decode(err), time.monotonic() - started, timed_out=True)
        return RunResult(tuple(argv), proc.returncode, _decode(out), _decode(err), time.monotonic() - started)




class _Capture:
    """Reads one pipe to its end in a thread, keeping the first and the last bytes of what came
    (the answer of a probe is its last line; the start says what went wrong first)."""

    HEAD = 64 * 1024

    def __init__(self, stream: Any, limit: int = MAX_CAPTURE_BYTES) -> None:
        self.stream = stream
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        read = getattr(self.stream, "read1", self.stream.read)
        try:
            while True:
                chunk = read(65536)
                if not chunk:
                    return
                if len(self.head) < self.HEAD:
                    room = self.HEAD - len(self.head)
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                self.tail += chunk
                if len(self.tail) > 2 * self.limit:
                    cut = len(self.tail) - self.limit
                    self.dropped += cut
                    del self.tail[:cut]
        except (OSError, ValueError):
            return  # the pipe was closed under us: we stopped listening

    def value(self) -> bytes:
        tail = bytes(self.tail)
        if len(tail) > self.limit:
            self.dropped += len(tail) - self.limit
            tail = tail[-self.limit:]
        if self.dropped:
            note = f"\n[... {self.dropped} bytes of output left out ...]\n".encode()
            return bytes(self.head) + note + tail
        return bytes(self.head) + tail


def _feed(stream: Any, data: bytes) -> None:
    try:
        stream.write(data)
    except (OSError, ValueError):
        pass
    finally:
        try:
            stream.close()
        except (OSError, ValueError):
            pass


def _communicate(proc: subprocess.Popen, stdin: Optional[bytes], timeout: float,
                 limit: int = 0) -> Tuple[bytes, bytes, bool]:
    """Like Popen.communicate, but bounded in memory and in time: on timeout the whole process group
    is killed and the wait ends, even when a grandchild in its own session still holds the pipes
    (communicate() would wait for that grandchild, for as long as it lives)."""
    limit = limit or MAX_CAPTURE_BYTES
    out, err = _Capture(proc.stdout, limit), _Capture(proc.stderr, limit)
    if stdin is not None and proc.stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_tree(proc)
        try:
            proc.wait(timeout=DRAIN_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + DRAIN_GRACE_S
    for capture in (out, err):
        capture.thread.join(max(0.0, deadline - time.monotonic()))
    return out.value(), err.value(), timed_out


def _encode(text: Optional[str]) -> Optional[bytes]:
    return None if text is None else text.encode("utf-8")


def _decode(data: Optional[bytes]) -> str:
    if not data:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows consoles of Chinese systems write the ANSI code page (GBK) by default.
        return data.decode("gbk", errors="replace")


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        if sys.platform == "win32":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, subprocess.SubprocessError):
        proc.kill()


def last_marked_json(stdout: str, marker: str) -> Optional[dict]:
    """The JSON object on the last line starting with `marker`: how child scripts report back, since
    anything else they print (warnings, library noise) may come before it."""

    for line in reversed(stdout.splitlines()):
        if line.startswith(marker):
            try:
                value = json.loads(line[len(marker):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None
