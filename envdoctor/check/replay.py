"""Replaying an unchanged pre-launch check.

A launcher runs `envdoctor check` before every WebUI start, and almost always nothing has changed
since the last start. When a check finishes, it records what it printed, its exit code, and a stamp
(size, mtime, inode) of every file and folder its answer depends on: the interpreter, site-packages,
torch's files and libraries, the GPT-SoVITS configuration, the compatibility matrix and envdoctor
itself; the GPUs and driver enter through the driver's own files (envdoctor.probes.fingerprint: /proc
on Linux; DLLs, DriverStore and adapter keys on Windows). The next identical command re-stats those
paths and, when every stamp and the driver fingerprint are unchanged, prints the recorded answer
without importing the probes, the rules or rich.

Only `check` is replayed, only where the driver fingerprint exists (Linux, Windows), never for --demo or
--debug, and never an answer whose live probe did not finish. ENVDOCTOR_NO_REPLAY=1 turns it off.
This module uses the standard library only: its cost is the whole cost of a replayed check.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from typing import Dict, Iterable, List, Optional, Sequence, TextIO

import envdoctor
from envdoctor import __version__
from envdoctor.fileio.jsoncache import JsonCache, stamp
from envdoctor.fileio.paths import cache_dir
from envdoctor.probes.fingerprint import driver_fingerprint
from envdoctor.probes.inputs import declared_environment

ENV_DISABLE = "ENVDOCTOR_NO_REPLAY"
_NEVER = ("--demo", "--debug", "-h", "--help")


def _eligible(argv: Sequence[str], environ: Dict[str, str]) -> bool:
    return bool(argv) and argv[0] == "check" and not any(a in _NEVER for a in argv) \
        and not environ.get(ENV_DISABLE)


def _key(argv: Sequence[str], environ: Dict[str, str], fingerprint: str) -> str:
    """Everything outside the files that can change the answer or its rendering: every variable a
    probe declares reading (envdoctor.probes.inputs), the arguments, the terminal, the driver."""
    size = shutil.get_terminal_size()
    env = declared_environment(environ)
    return json.dumps({
        "envdoctor": __version__,
        "python": sys.executable,
        "argv0": sys.argv[0] if sys.argv else "",  # hints name the command as started (envdoctor.process.invocation)
        "prefix": environ.get("ENVDOCTOR_COMMAND_PREFIX", ""),
        "argv": list(argv),
        "cwd": os.getcwd(),
        "env": env,
        "tty": [sys.stdout.isatty(), size.columns, size.lines],
        "driver": hashlib.sha256(fingerprint.encode("utf-8")).hexdigest(),
    }, sort_keys=True)


def _cache() -> JsonCache:
    return JsonCache(cache_dir(), "replay")


def replay(argv: Sequence[str], environ: Optional[Dict[str, str]] = None) -> Optional[int]:
    """Print the recorded answer and return its exit code, or None when it must be computed anew."""
    env = dict(os.environ if environ is None else environ)
    if not _eligible(argv, env):
        return None
    fingerprint = driver_fingerprint()
    if fingerprint is None:
        return None
    entry = _cache().get(_key(argv, env, fingerprint))
    if not isinstance(entry, dict):
        return None
    try:
        if any(stamp(path) != recorded for path, recorded in entry["deps"]):
            return None
        text, code = str(entry["stdout"]), int(entry["exit"])
    except (KeyError, TypeError, ValueError):
        return None
    sys.stdout.write(text)
    sys.stdout.flush()
    return code


class Recorder(io.TextIOBase):
    """Writes through to the real stdout and keeps a copy (rich sees the real stream's tty-ness)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.parts: List[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")

    def getvalue(self) -> str:
        return "".join(self.parts)


def start_recording(argv: Sequence[str]) -> Optional[Recorder]:
    if not _eligible(argv, dict(os.environ)) or driver_fingerprint() is None:
        return None
    recorder = Recorder(sys.stdout)
    sys.stdout = recorder  # type: ignore[assignment]
    return recorder


def finish_recording(recorder: Optional[Recorder], argv: Sequence[str], deps: Optional[Iterable[str]],
                     code: int) -> None:
    """Restore stdout; store the answer when deps are given (None: this answer must not be replayed)."""
    if recorder is None:
        return
    sys.stdout = recorder.stream  # type: ignore[assignment]
    fingerprint = driver_fingerprint()
    if fingerprint is None or deps is None:
        return
    paths = sorted(set(deps) | set(_own_files()))
    entry = {"deps": [[p, stamp(p)] for p in paths], "stdout": recorder.getvalue(), "exit": code}
    _cache().put(_key(argv, dict(os.environ), fingerprint), entry)


def _own_files() -> List[str]:
    """envdoctor's own code and data: a replay never outlives an update of envdoctor itself."""

    # The zipapp: one file. Its unpacked copy is named by the zip's content hash and never changes.
    archive = envdoctor.PYZ_ARCHIVE or getattr(getattr(envdoctor, "__loader__", None), "archive", None)
    if archive:
        return [archive]
    top = os.path.dirname(os.path.abspath(envdoctor.__file__))
    found: List[str] = []
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        found.extend(os.path.join(folder, f) for f in files if f.endswith((".py", ".yaml")))
    return found
