"""Running pip and probes in the stage: a child process in its own group, killed with us in fault tests."""

from __future__ import annotations

from envdoctor.probes.runner import RunResult, SubprocessRunner
from envdoctor.upgrade import faults


class StageRunner(SubprocessRunner):
    """The probes' runner, with every child registered so a fault-injected kill takes it down too."""

    def __init__(self) -> None:
        # pip's --report of a resolve is JSON on stdout that must come back whole: a larger cap.
        super().__init__(on_spawn=faults.register_child, on_exit=faults.unregister_child,
                         max_capture=256 * 1024 * 1024)


def output_tail(result: RunResult, limit: int) -> str:
    """The end of what a failed child said (stderr, else stdout, else why it could not start)."""
    return (result.stderr or result.stdout or result.start_error or "").strip()[-limit:]
