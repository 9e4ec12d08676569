"""A time budget for regular expressions from matrices a user may have written.

Python's `re` backtracks: a pattern like `(a+)+$` takes longer than the universe on a line of forty
`a`s. The engine checks for signals while it runs, so on POSIX an interval timer (SIGALRM) ends a
search that overruns its budget; the pattern that overran is then dropped for the rest of the log
and named to the user. Where there is no SIGALRM (Windows) or envdoctor is not on the main thread,
the budget is inert and the line cap of the reader (MAX_LINE) is the only bound.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Optional

LINE_BUDGET_S = 1.0  # every pattern on one line (at most 64 KiB) together; real patterns need microseconds
BLOCK_BUDGET_S = 2.0  # one pattern over one block, for patterns without a literal prefilter


class RegexTimeout(Exception):
    pass


def _raise(_signum: int, _frame: Any) -> None:
    raise RegexTimeout()


class Budget:
    def __init__(self) -> None:
        self.enabled = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        self._previous: Optional[Any] = None

    def __enter__(self) -> Budget:
        if self.enabled:
            try:
                self._previous = signal.signal(signal.SIGALRM, _raise)
            except (ValueError, OSError):
                self.enabled = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous if self._previous is not None else signal.SIG_DFL)

    def arm(self, seconds: float) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, seconds)

    def disarm(self) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)
