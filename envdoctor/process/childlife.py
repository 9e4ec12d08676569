"""Children that die with envdoctor on Linux, however envdoctor dies (kill -9 included): the kernel sends
them SIGKILL when their parent goes (PR_SET_PDEATHSIG). Used for pip and the stage's checks (upgrade)
and doctor's smoke-test workers, which hold the GPU and may sit in a hung kernel forever otherwise.
Windows ties children to envdoctor through a job object instead (upgrade/proc.py)."""

from __future__ import annotations

import signal
import sys
from typing import Callable, Optional

PR_SET_PDEATHSIG = 1


def die_with_parent() -> Optional[Callable[[], None]]:
    """A `preexec_fn` for subprocess on Linux, else None. prctl is resolved here, in the parent, so the
    child does no import and no library lookup between fork and exec (an import there can deadlock on an
    import lock another thread held at the fork)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # not at the top: every check imports the modules that import this one

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except Exception:  # noqa: BLE001 - no libc with prctl: recover still ends strays
        return None

    def preexec() -> None:  # runs in the child between fork and exec
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return preexec
