"""Installing the verified wheels into the stage with the stage's own pip, from local files only."""

from __future__ import annotations

from typing import Optional, Sequence

from envdoctor.probes.runner import Runner
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.proc import StageRunner, output_tail
from envdoctor.upgrade.resolve import pip_env

INSTALL_TIMEOUT_S = 1800.0


def install_wheels(stage_python: str, files: Sequence[str], runner: Optional[Runner] = None) -> str:
    """pip install --no-index --no-deps <exact files>: the resolution already fixed the full set, and
    nothing may come from anywhere but the hash-checked files. Returns pip's output for the log."""
    runner = runner or StageRunner()
    argv = [stage_python, "-m", "pip", "install", "--no-index", "--no-deps", "--no-warn-script-location",
            *files]
    result = runner.run(argv, timeout=INSTALL_TIMEOUT_S, env=pip_env())
    if result.returncode != 0:
        raise UpgradeError("upgrade.error.install_failed", detail=output_tail(result, 1500))
    return (result.stdout + ("\n" + result.stderr if result.stderr.strip() else "")).strip()
