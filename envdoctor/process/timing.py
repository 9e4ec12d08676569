"""Stage timings, so `--debug` and bench/ can say where a check spends its time."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, List, Tuple


class Stopwatch:
    """Named stage durations in milliseconds, in the order the stages ran."""

    def __init__(self) -> None:
        self.stages: List[Tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages.append((name, round((time.perf_counter() - started) * 1000, 2)))
