"""Running pip and probes for the upgrade: every child dies with envdoctor.

POSIX: each child gets its own session (a Ctrl-C aimed at envdoctor's terminal does not tear pip down
halfway; envdoctor ends it itself), and on Linux the kernel kills it when envdoctor dies, however it
dies (PR_SET_PDEATHSIG, even after kill -9). Windows: each child joins a job object whose last handle
envdoctor holds, with kill-on-close, so the system ends the job when envdoctor's process goes.
`recover` also ends anything still running from a stage before it removes the stage.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from envdoctor.probes.runner import RunResult, SubprocessRunner
from envdoctor.process import faults
from envdoctor.process.childlife import die_with_parent
from envdoctor.upgrade.swap import processes_using


class ChildGuard:
    """The seam that ties a child's life to envdoctor's: `preexec` for POSIX, `attach` for Windows."""

    def __init__(self) -> None:
        self._job = None

    def preexec(self):
        return die_with_parent()

    def attach(self, pid: int) -> None:
        if sys.platform != "win32":
            return
        try:
            self._attach_windows(pid)
        except Exception:  # noqa: BLE001 - without a job object the child still ends on timeout/abort
            pass

    def _attach_windows(self, pid: int) -> None:  # pragma: no cover - Windows only
        # Windows only (job objects).
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        if self._job is None:
            job = kernel32.CreateJobObjectW(None, None)

            class _Basic(ctypes.Structure):
                _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                            ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                            ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                            ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                            ("SchedulingClass", wintypes.DWORD)]

            class _Extended(ctypes.Structure):
                _fields_ = [("BasicLimitInformation", _Basic), ("IoInfo", ctypes.c_uint64 * 6),
                            ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                            ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]

            info = _Extended()
            info.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            kernel32.SetInformationJobObject(job, 9, ctypes.byref(info), ctypes.sizeof(info))
            self._job = job  # never closed by us: the system closes it, and kills the job, when we exit
        handle = kernel32.OpenProcess(0x0001 | 0x0100, False, pid)  # PROCESS_TERMINATE | SET_QUOTA
        if handle:
            kernel32.AssignProcessToJobObject(self._job, handle)
            kernel32.CloseHandle(handle)


GUARD = ChildGuard()


class StageRunner(SubprocessRunner):
    """The probes' runner contract, with children tied to envdoctor's life and registered so a
    fault-injected kill takes them down too."""

    def __init__(self) -> None:
        # A larger cap than the probes' 4 MB: pip's output and a stage check's answer must come back whole.
        super().__init__(on_spawn=_tie_to_envdoctor, on_exit=faults.unregister_child,
                         max_capture=32 * 1024 * 1024)

    def popen_options(self) -> dict:
        options = super().popen_options()
        if sys.platform != "win32":
            options["preexec_fn"] = GUARD.preexec()
        return options


def _tie_to_envdoctor(pid: int) -> None:
    GUARD.attach(pid)  # Windows: into envdoctor's job object
    faults.register_child(pid)  # a fault-injected kill takes it down too


def end_processes_in(path: str) -> int:
    """SIGKILL every process running from (or mapping files in) `path`; how many there were."""
    count = 0
    for _round in range(3):  # a dying pip may have just started another child
        users = processes_using(path)
        if not users:
            break
        for entry in users:
            pid = int(entry.split(" ", 1)[0])
            try:
                os.kill(pid, signal.SIGKILL)
                count += 1
            except OSError:
                pass
        time.sleep(0.2)
    return count


def output_tail(result: RunResult, limit: int) -> str:
    """The end of what a failed child said (stderr, else stdout, else why it could not start)."""
    return (result.stderr or result.stdout or result.start_error or "").strip()[-limit:]
