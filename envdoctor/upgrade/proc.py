"""Running pip and probes in the stage: a child process in its own group, killed with us in fault tests."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Mapping, Optional, Sequence

from envdoctor.probes.runner import RunResult, _decode, _kill_tree
from envdoctor.upgrade import faults


def run(argv: Sequence[str], timeout: float, env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None) -> RunResult:
    started = time.monotonic()
    kwargs: dict = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        kwargs["start_new_session"] = True
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=dict(env) if env is not None else None, cwd=cwd,
                                **kwargs)
    except OSError as exc:
        return RunResult(tuple(argv), None, "", "", time.monotonic() - started, start_error=str(exc))
    faults.register_child(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        out, err = proc.communicate()
        return RunResult(tuple(argv), None, _decode(out), _decode(err), time.monotonic() - started, timed_out=True)
    finally:
        faults.unregister_child(proc.pid)
    return RunResult(tuple(argv), proc.returncode, _decode(out), _decode(err), time.monotonic() - started)


class StageRunner:
    """The Runner protocol over `run`, so probes started by the upgrade die with it in fault tests."""

    def run(self, argv, timeout, env=None, cwd=None, stdin_text=None) -> RunResult:  # noqa: ANN001
        return run(argv, timeout, env=env, cwd=cwd)
