"""The full set of wheels to install, as the runtime's own pip resolves it (`--dry-run --report`).

The runtime's pip knows the runtime's Python, platform tags and installed packages; asking it is the
only way to get the same answer the install will. `-B` keeps it from writing .pyc files into the
runtime it runs from (the original must stay byte-identical).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple
from urllib.parse import unquote

from packaging.version import InvalidVersion, Version

from envdoctor.probes.runner import Runner, SubprocessRunner
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.proc import output_tail
from envdoctor.upgrade.sources import Source, check_url

MIN_PIP = "22.2"  # first pip with `install --dry-run --report`
PIP_TIMEOUT_S = 900.0


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


def pip_new_enough(version: Optional[str]) -> bool:
    try:
        return version is not None and Version(version) >= Version(MIN_PIP)
    except InvalidVersion:
        return False


def parse_report(text: str) -> Tuple[WheelRef, ...]:
    try:
        report = json.loads(text)
    except ValueError as exc:
        raise UpgradeError("upgrade.error.resolve_failed", detail=f"pip report is not JSON: {exc}") from exc
    wheels = []
    for item in report.get("install") or []:
        meta = item.get("metadata") or {}
        info = item.get("download_info") or {}
        url = str(info.get("url", ""))
        archive = info.get("archive_info") or {}
        hashes = archive.get("hashes") or {}
        sha = hashes.get("sha256")
        if sha is None and str(archive.get("hash", "")).startswith("sha256="):
            sha = archive["hash"].split("=", 1)[1]
        filename = url.rsplit("/", 1)[-1].split("#", 1)[0].split("?", 1)[0]
        filename = unquote(filename)
        if not filename.endswith(".whl"):
            raise UpgradeError("upgrade.error.not_a_wheel", name=meta.get("name", "?"), url=url)
        wheels.append(WheelRef(str(meta.get("name", "?")), str(meta.get("version", "?")), url.split("#", 1)[0],
                               filename, sha, bool(item.get("requested"))))
    return tuple(wheels)


def resolve(python: str, requirements: Sequence[str], constraints: Sequence[str], source: Source,
            runner: Optional[Runner] = None) -> Resolution:
    runner = runner or SubprocessRunner()
    version = pip_version(python, runner)
    if version is None:
        raise UpgradeError("upgrade.error.no_pip", python=python)
    if not pip_new_enough(version):
        raise UpgradeError("upgrade.error.pip_too_old", python=python, version=version, minimum=MIN_PIP)
    if source.index_url:
        check_url(source.index_url)
    with tempfile.TemporaryDirectory(prefix="envdoctor-resolve-") as tmp:
        cfile = os.path.join(tmp, "constraints.txt")
        with open(cfile, "w", encoding="utf-8") as handle:
            handle.write("\n".join(constraints) + "\n")
        argv = [python, "-B", "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
                "--only-binary", ":all:", "-c", cfile, *source.pip_args(), *requirements]
        result = runner.run(argv, timeout=PIP_TIMEOUT_S, env=pip_env())
    if result.returncode != 0:
        raise UpgradeError("upgrade.error.resolve_failed", detail=output_tail(result, 1500))
    text = result.stdout
    start = text.find("{")
    return Resolution(parse_report(text[start:] if start >= 0 else text), version)
