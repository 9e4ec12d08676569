"""Fault injection for tests (documented test hook; inert unless the variables are set). Standard library
only, at the top of the package: the upgrade, atomic writes and safe output all report their kill points here.

ENVDOCTOR_FAULT_AT=<point>[#n]  SIGKILL this process (and the children it started) the n-th time
                                (default: first) the named point is reached. Points are the journal
                                events ("begin", "staged", "installed", "verified", "swap-begin",
                                "move", "committed", ...) and "stage-file" (after each staged file).
ENVDOCTOR_FAULT_AFTER_S=<float> SIGKILL this process and its children that many seconds after the
                                upgrade starts (a "random moment" for crash tests).
ENVDOCTOR_FAULT_KIND=<kind>     what ENVDOCTOR_FAULT_AT does: "kill" (default, SIGKILL), a signal name
                                ("SIGTERM", "SIGHUP", "SIGINT": sent to this process, which handles it
                                as a user's or the system's would), or "ENOSPC": the disk is full from
                                then on (this hit and every later journal write fail with ENOSPC).
ENVDOCTOR_NO_EXCHANGE=1         use two renames instead of Linux's atomic exchange (the Windows path).
SIGKILL is what a power loss looks like to the files: no cleanup code runs.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from typing import Dict, Set

_counts: Dict[str, int] = {}
_children: Set[int] = set()


def register_child(pid: int) -> None:
    _children.add(pid)


def unregister_child(pid: int) -> None:
    _children.discard(pid)


def kill_children() -> None:
    """End the pip/probe children we started (they run in their own process groups, so a Ctrl-C
    aimed at envdoctor does not reach them)."""
    for pid in list(_children):
        try:
            if sys.platform == "win32":
                os.kill(pid, signal.SIGTERM)
            else:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def _die() -> None:
    kill_children()
    if sys.platform == "win32":
        os._exit(137)
    os.kill(os.getpid(), signal.SIGKILL)


def hit(point: str) -> None:
    wanted = os.environ.get("ENVDOCTOR_FAULT_AT")
    if not wanted:
        return
    name, _, nth = wanted.partition("#")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] != int(nth or 1):
        return  # (fires once: a handled signal or ENOSPC lets the process go on past the point)
    kind = os.environ.get("ENVDOCTOR_FAULT_KIND", "kill")
    if kind == "ENOSPC":
        global _disk_full
        _disk_full = True
        check_space()
    elif kind.startswith("SIG") and hasattr(signal, kind):
        os.kill(os.getpid(), getattr(signal, kind))
    else:
        _die()


_disk_full = False


def check_space() -> None:
    """Called before each journal write: once an injected ENOSPC fired, the disk stays full."""
    if _disk_full:
        raise OSError(errno.ENOSPC, "No space left on device (injected: ENVDOCTOR_FAULT_KIND=ENOSPC)")


def arm_timer() -> None:
    delay = os.environ.get("ENVDOCTOR_FAULT_AFTER_S")
    if not delay:
        return
    timer = threading.Timer(float(delay), _die)
    timer.daemon = True
    timer.start()
