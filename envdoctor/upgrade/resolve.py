"""The runtime's own pip, as the upgrade talks to it: its version, and the environment every pip and
stage-check child runs in (only the runtime's packages, no bytecode written into the original). The
types of a resolved wheel set live here too: envdoctor resolves from the wheels' metadata itself
(upgrade/metaresolve.py), so a runtime's pip of any age installs the exact files it was given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

from envdoctor.probes.runner import Runner, SubprocessRunner


@dataclass(frozen=True)
class WheelRef:
    name: str
    version: str
    url: str
    filename: str
    sha256: Optional[str]
    requested: bool
    size: Optional[int] = None
    unpacked: Optional[int] = None  # bytes once installed (sum of the zip's member sizes), when known
    unhashed_ok: bool = False  # from a flat mirror page that publishes no hashes (said in the plan)
    build: Optional[str] = None  # torch's CUDA build as the wheel itself says (torch/version.py), e.g. "13.0"


@dataclass(frozen=True)
class Resolution:
    wheels: Tuple[WheelRef, ...]
    pip_version: str

    @property
    def download_bytes(self) -> Optional[int]:
        sizes = [w.size for w in self.wheels]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def pip_env() -> dict:
    env = dict(os.environ)
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "PYTHONIOENCODING": "utf-8"})
    # A user's pip config must not add indexes or change where pip installs into the runtime.
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TARGET", "PIP_PREFIX", "PIP_USER"):
        env.pop(key, None)
    env["PIP_CONFIG_FILE"] = os.devnull
    # The runtime's pip and the stage's checks must see the runtime's packages only, as the bundle's own
    # launcher does (`runtime\python.exe -I webui.py`): a PYTHONPATH or a user site left in the caller's
    # environment would make pip say "already satisfied" for a package the runtime lacks, or make
    # `pip check` judge someone else's packages.
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"):
        env.pop(key, None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def pip_version(python: str, runner: Optional[Runner] = None) -> Optional[str]:
    result = (runner or SubprocessRunner()).run([python, "-B", "-m", "pip", "--version"], timeout=60, env=pip_env())
    if result.returncode != 0:
        return None
    parts = result.stdout.split()
    return parts[1] if len(parts) > 1 and parts[0] == "pip" else None

