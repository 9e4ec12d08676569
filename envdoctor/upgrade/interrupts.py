"""Signals that end envdoctor while it changes the runtime: Ctrl-C (SIGINT), a kill or a shutdown
(SIGTERM), a closed terminal (SIGHUP) and, on Windows, a closed console window or a logoff.

Python ends the process on SIGTERM and SIGHUP without running any cleanup, so on the two-rename
swap (Windows) one between the renames left no `runtime/` until `recover` (issue 28). Inside
`guard()` they raise `Interrupted`, a KeyboardInterrupt, so the transaction unwinds exactly as for
Ctrl-C: the stage is dropped, a verified candidate is kept, a swap in progress is undone. While
`held()` is active (the swap, the unwinding, the commit) a signal only is remembered: the few
renames run to their end, and the process then ends with the runtime whole.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Iterator, List, Optional


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM, SIGHUP or a closed console, turned into one exception the transaction unwinds on."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _State:
    def __init__(self) -> None:
        self.depth = 0  # nested guard() calls
        self.holds = 0
        self.to_the_end = 0  # holds taken by hold_to_the_end, given back when guard() ends
        self.pending: List[int] = []
        self.unwound = threading.Event()


_state = _State()
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
                 if hasattr(signal, name))


def _handler(signum: int, _frame: object) -> None:
    if _state.holds:
        _state.pending.append(signum)
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Turn the signals above into `Interrupted` for the duration (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    if _state.depth == 0:
        for sig in _SIGNALS:
            try:
                previous[sig] = signal.signal(sig, _handler)
            except (OSError, ValueError):
                pass
        _state.pending.clear()
        _state.unwound.clear()
        _console_close_handler(True)
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if _state.depth == 0:
            _state.holds -= _state.to_the_end
            _state.to_the_end = 0
            _state.unwound.set()
            _console_close_handler(False)
            for sig, old in previous.items():
                try:
                    signal.signal(sig, old)
                except (OSError, ValueError):
                    pass


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Signals wait (are remembered, not raised) while the body runs: a swap is finished or undone, never
    left half done."""
    _state.holds += 1
    try:
        yield
    finally:
        _state.holds -= 1


def hold_to_the_end() -> None:
    """From now until guard() ends, signals wait: the work is committed, and what is left is to say so
    ("Done"), not to unwind."""
    if _state.depth:
        _state.holds += 1
        _state.to_the_end += 1


def pending() -> Optional[int]:
    """The first signal that arrived while held, if any."""
    return _state.pending[0] if _state.pending else None


# -- Windows: a closed console window ----------------------------------------------------------
# Closing the window (or a logoff/shutdown) calls a console control handler on its own thread and ends
# the process when the handler returns (after at most ~5 s). The handler interrupts the main thread
# like Ctrl-C and waits for the transaction to unwind before it lets Windows end the process.
_CTRL_CLOSE, _CTRL_LOGOFF, _CTRL_SHUTDOWN = 2, 5, 6
_win_handler = None


def _console_close_handler(install: bool) -> None:
    global _win_handler
    if sys.platform != "win32":
        return
    import _thread
    import ctypes  # Windows only: SetConsoleCtrlHandler

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    if install and _win_handler is None:
        routine = ctypes.WINFUNCTYPE(ctypes.c_int, ctypes.c_uint)  # type: ignore[attr-defined]

        def on_event(event: int) -> int:
            if event not in (_CTRL_CLOSE, _CTRL_LOGOFF, _CTRL_SHUTDOWN):
                return 0  # Ctrl-C / Ctrl-Break: Python's own handling (SIGINT / SIGBREAK above)
            if not _state.holds:
                _thread.interrupt_main()
            _state.unwound.wait(4.5)
            return 1

        _win_handler = routine(on_event)
        kernel32.SetConsoleCtrlHandler(_win_handler, True)
    elif not install and _win_handler is not None:
        kernel32.SetConsoleCtrlHandler(_win_handler, False)
        _win_handler = None
