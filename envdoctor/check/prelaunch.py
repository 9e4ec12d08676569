"""The pre-launch answer `envdoctor check` gives: the check, the launcher's shortcut, and the inputs the
answer may be replayed against.

With --launcher, where the files alone already say ready or will fail, the launcher goes on at once and
the runtime's own `import torch` is read by a detached check in the background for the next start; where
they only warn (or say nothing), the live probe settles it and is waited for this once. An answer whose
live probe did not finish (timeout, crash) is never replayed: it is asked again next time.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from envdoctor.check import pipeline  # called through the module: tests count its calls
from envdoctor.model import CheckReport
from envdoctor.probes.collect import CollectOptions
from envdoctor.probes.live import BACKGROUND


@dataclass(frozen=True)
class PrelaunchAnswer:
    report: CheckReport
    replayable: bool  # the live probe finished (or was not asked for): replay while the inputs stand still


def prelaunch_check(options: CollectOptions, select: Optional[Sequence[int]] = None) -> PrelaunchAnswer:
    """The check as a launcher needs it (options.live_wait False: --launcher)."""
    report = pipeline.run_check(options, select=select)
    live = report.facts.live
    if live is not None and live.status == "skipped" and live.error == BACKGROUND:
        if report.verdict.exit_code in (0, 2):
            refresh_in_background(options.root, options.python, options.live_timeout)
            return PrelaunchAnswer(report, replayable=False)
        report = pipeline.run_check(dataclasses.replace(options, live_wait=True), select=select)
        live = report.facts.live
    return PrelaunchAnswer(report, replayable=live is None or live.status in ("ok", "skipped"))


def refresh_in_background(root: Optional[str], python: Optional[str], timeout: Optional[float] = None) -> bool:
    """Start `check` (with its live probe) as a detached process that fills the cache, so the next
    launcher check has the live facts without waiting for them. False where it could not start."""
    from envdoctor.process.invocation import self_command  # the same envdoctor: installed, -m or the .pyz

    args = [*self_command(), "check", "--json"]
    if timeout is not None:
        args += ["--live-timeout", str(timeout)]
    if python:
        args += ["--python", python]
    elif root:
        args += ["--root", root]
    options: dict = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
                     "close_fds": True}
    if sys.platform == "win32":
        # Its own process group, no console: closing the launcher's window does not kill it.
        options["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    try:
        subprocess.Popen(args, env=dict(os.environ, ENVDOCTOR_NO_REPLAY="1"), **options)
    except OSError:
        return False
    return True


def replay_anchors(report: CheckReport, root: Optional[str]) -> Dict[str, List[str]]:
    """Where this answer's declared file inputs (envdoctor.probes.inputs.FILE_INPUTS) are anchored."""
    from envdoctor.probes import torchfiles
    from envdoctor.probes.inputs import anchor_paths

    facts = report.facts
    pairs = [("bundle", os.path.abspath(root or os.getcwd()))]
    if facts.runtime is not None:
        pairs += [("python", facts.runtime.python), ("runtime", facts.runtime.root)]
        pairs += [("site", site) for site in facts.runtime.site_packages]
        folders = torchfiles.cuda_binaries(facts.runtime, facts.torch.location if facts.torch else None)
        pairs += [("binaries", folder) for folder in folders]
    if facts.torch is not None:
        pairs.append(("torch", facts.torch.location))
        dist = facts.distribution("torch")
        if dist is not None and dist.path:
            pairs.append(("torch_dist", dist.path))
    if os.path.isdir(report.matrix_where):
        pairs.append(("matrix", report.matrix_where))
    return anchor_paths(pairs)


def replay_deps(report: CheckReport, root: Optional[str]) -> List[str]:
    """Every file and folder this answer was read from, as the probes declare them (see check/replay.py)."""
    from envdoctor.probes.inputs import declared_files

    return declared_files(replay_anchors(report, root))
