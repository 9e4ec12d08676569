"""Running another program (the runtime's interpreter, nvidia-smi) with a timeout.

The runner is injectable so tests can substitute a recording one; the real one kills the whole
process tree on timeout so that a hung `import torch` never hangs envdoctor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Protocol, Sequence


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


class SubprocessRunner:
    """The real runner: a new process group (POSIX) or process group flag (Windows), killed on timeout.

    `on_spawn`/`on_exit` receive the child's pid (the upgrade's fault tests use them to take children
    down with a killed parent).
    """

    def __init__(self, on_spawn: Optional[Callable[[int], None]] = None,
                 on_exit: Optional[Callable[[int], None]] = None) -> None:
        self.on_spawn = on_spawn
        self.on_exit = on_exit

    def run(
        self,
        argv: Sequence[str],
        timeout: float,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stdin_text: Optional[str] = None,
    ) -> RunResult:
        started = time.monotonic()
        kwargs: dict = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                **kwargs,
            )
        except OSError as exc:
            return RunResult(tuple(argv), None, "", "", time.monotonic() - started, start_error=str(exc))
        if self.on_spawn:
            self.on_spawn(proc.pid)
        try:
            out, err = proc.communicate(input=_encode(stdin_text), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            out, err = proc.communicate()
            return RunResult(
                tuple(argv), None, _decode(out), _decode(err), time.monotonic() - started, timed_out=True
            )
        except BaseException:
            # Ctrl-C reaches only envdoctor (the child has its own session): end the child too.
            _kill_tree(proc)
            proc.wait()
            raise
        finally:
            if self.on_exit:
                self.on_exit(proc.pid)
        return RunResult(tuple(argv), proc.returncode, _decode(out), _decode(err), time.monotonic() - started)


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
    import json

    for line in reversed(stdout.splitlines()):
        if line.startswith(marker):
            try:
                value = json.loads(line[len(marker):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None
