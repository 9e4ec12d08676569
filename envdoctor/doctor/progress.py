"""The live view while smoke tests run: one line for the whole run (bar, done/total, time) and one per
GPU (the test running there and how long it has been running), drawn with rich on the console given
(stderr in the CLI, so that stdout stays the report). Only renders what session.Event says."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

from envdoctor.doctor.session import Event


class _OverallOnly(ProgressColumn):
    """A column drawn on the run's line only (a bar per GPU line would repeat the same count)."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self.column = column

    def render(self, task: Task) -> Any:
        return self.column.render(task) if task.fields.get("overall") else Text("")


class _Clock(ProgressColumn):
    """The run's elapsed time on its line; on a GPU's line, the running test's."""

    def render(self, task: Task) -> Text:
        if task.fields.get("overall"):
            seconds: Optional[float] = task.elapsed
        else:
            since = task.fields.get("since")
            seconds = time.monotonic() - since if since is not None else None
        return Text("" if seconds is None else f"{seconds:5.1f} s", style="progress.elapsed")


class SmokeProgress:
    """Call it with each session Event; use it as a context manager around the session."""

    def __init__(self, console: Any, text: Callable[..., str], title: str = "envdoctor doctor") -> None:
        self._text = text
        self._title = title
        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), _OverallOnly(BarColumn()),
                             _OverallOnly(MofNCompleteColumn()), _Clock(), console=console, transient=True)
        self._overall: Optional[Any] = None
        self._gpus: Dict[Optional[int], Any] = {}

    def __enter__(self) -> SmokeProgress:
        self._bar.__enter__()
        # Shown at once: the check that comes before the tests takes a moment too.
        self._overall = self._bar.add_task(self._title, total=None, overall=True)
        return self

    def renderable(self) -> Any:
        """What the live view shows now (tests render it into a console of their own)."""
        return self._bar.get_renderable()

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def _gpu_line(self, gpu_index: Optional[int]) -> Any:
        if gpu_index not in self._gpus:
            self._gpus[gpu_index] = self._bar.add_task("", total=None, since=None)
        return self._gpus[gpu_index]

    def __call__(self, event: Event) -> None:
        if self._overall is None:
            self._overall = self._bar.add_task(self._title, total=event.total or None, overall=True)
        if event.kind == "plan":
            self._bar.update(self._overall, total=event.total)
            return
        line = self._gpu_line(event.gpu_index)
        if event.kind == "start":
            gpu = "-" if event.gpu_index is None else f"GPU {event.gpu_index}"
            self._bar.update(line, description="  " + self._text("ui.doctor.running", test=event.test, gpu=gpu),
                             since=time.monotonic())
        elif event.kind == "done":
            self._bar.update(line, since=None)
            self._bar.advance(self._overall)
