"""How the user started envdoctor, as a command prefix they can type again.

Every hint ("undo with: … configure --revert", "run … doctor") must work when pasted into the same
console. A bundle user types `runtime\\python.exe envdoctor.pyz fix`, not `envdoctor fix`; a developer
may use `python -m envdoctor`. `command_prefix` decides that prefix from what the process was started
with (argv[0], the interpreter, the OS, the current folder), as a pure function so that each way of
starting it is testable on any OS; `current()` applies it to this process. Standard library only:
`check` imports it on its fast path.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
import shutil
import sys
from typing import Callable, Dict, List, Optional, Tuple

# Set by envdoctor for the envdoctor commands it starts itself (fix's children), so that their
# messages name the command the user typed, not the child's `python -m envdoctor`.
ENV_PREFIX = "ENVDOCTOR_COMMAND_PREFIX"
DEFAULT = "envdoctor"
_STANDARD_POSIX_DIRS = ("/usr/bin", "/usr/local/bin", "/bin")

Which = Callable[[str], Optional[str]]


def command_prefix(argv0: str, executable: str, os_name: str, cwd: str,
                   which: Optional[Which] = None) -> str:
    """The words before the command name, e.g. `runtime\\python.exe envdoctor.pyz` or `envdoctor`.

    argv0/executable/cwd: sys.argv[0], sys.executable, os.getcwd(); os_name: os.name ("nt" or
    "posix"), which picks the path rules (ntpath on Windows); which: finds a program on PATH
    (shutil.which), None = look nothing up.
    """
    path = ntpath if os_name == "nt" else posixpath
    base = path.basename(argv0).lower()
    if base.endswith(".pyz"):
        return f"{_python(executable, os_name, cwd, which)} {_quote(_shown(argv0, cwd, path), os_name)}"
    parent = path.basename(path.dirname(argv0)).lower()
    if base == "__main__.py" and parent == "envdoctor":
        return f"{_python(executable, os_name, cwd, which)} -m envdoctor"
    # The installed console script (envdoctor, envdoctor.exe, envdoctor-script.py) and anything else
    # (tests calling main() in-process): the name on PATH.
    return DEFAULT


_CACHE: Dict[Tuple[str, str, str, str], str] = {}


def self_command(argv0: Optional[str] = None) -> List[str]:
    """How to start this envdoctor again: the zipapp file when run from one, else the package."""
    first = argv0 if argv0 is not None else (sys.argv[0] if sys.argv else "")
    if first.lower().endswith(".pyz") and os.path.isfile(first):
        return [sys.executable, os.path.abspath(first)]
    return [sys.executable, "-m", "envdoctor"]


def current(cwd: Optional[str] = None) -> str:
    """This process's prefix; CWD: the folder the user will type it in (default: the current one)."""
    inherited = os.environ.get(ENV_PREFIX, "").strip()
    if inherited:  # fix's children run in the folder the user typed the command in
        return inherited
    try:
        folder = cwd if cwd is not None else os.getcwd()
    except OSError:
        return DEFAULT
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    key = (argv0, sys.executable or "python", os.name, folder)
    if key not in _CACHE:  # messages ask for it many times; PATH is searched once
        try:
            _CACHE[key] = command_prefix(*key, which=shutil.which)
        except (OSError, ValueError):
            _CACHE[key] = DEFAULT
    return _CACHE[key]


_NAMED = re.compile(r"(?<![\w./-])envdoctor (?=(?:check|doctor|explain|scan|configure|upgrade|rollback|recover|report|"
                    r"summarize|matrix|fix)\b)")


def retarget(text: str, prefix: Optional[str] = None) -> str:
    """TEXT (e.g. a fix from matrices/errors.yaml, written as `envdoctor upgrade`) with each envdoctor
    command named the way the user starts it."""
    shown = prefix if prefix is not None else current()
    return text if shown == DEFAULT else _NAMED.sub(lambda _: shown + " ", text)


def _python(executable: str, os_name: str, cwd: str, which: Optional[Which]) -> str:
    """The interpreter as the user can type it: relative to CWD when below it (the bundle's
    runtime\\python.exe), its bare name when PATH finds this same interpreter by it, `py -3` on Windows
    when the Python launcher is there, else the full path."""
    path = ntpath if os_name == "nt" else posixpath
    relative = _below(executable, cwd, path)
    if relative is not None:
        if os_name != "nt" and path.sep not in relative:
            relative = "./" + relative  # a POSIX shell does not run a program from the current folder
        return _quote(relative, os_name)
    name = path.basename(executable)
    if which is not None:
        found = which(name)
        if found and _same(found, executable, path):
            return _quote(name[:-4] if os_name == "nt" and name.lower().endswith(".exe") else name, os_name)
        if os_name == "nt" and which("py"):
            return "py -3"
    elif os_name != "nt" and path.dirname(executable) in _STANDARD_POSIX_DIRS:
        return name
    return _quote(executable, os_name)


def _shown(file: str, cwd: str, path) -> str:  # type: ignore[no-untyped-def]
    """FILE as typed when it is relative, relative to CWD when below it, else absolute."""
    if not path.isabs(file):
        return file
    relative = _below(file, cwd, path)
    return relative if relative is not None else file


def _below(file: str, folder: str, path) -> Optional[str]:  # type: ignore[no-untyped-def]
    if not path.isabs(file):
        return None
    try:
        relative = path.relpath(path.normpath(file), path.normpath(folder))
    except ValueError:  # another drive on Windows
        return None
    if relative == path.curdir or relative.startswith(path.pardir):
        return None
    return relative


def _same(first: str, second: str, path) -> bool:  # type: ignore[no-untyped-def]
    if path is ntpath:
        return ntpath.normcase(ntpath.normpath(first)) == ntpath.normcase(ntpath.normpath(second))
    try:
        return os.path.samefile(first, second)
    except OSError:
        return posixpath.normpath(first) == posixpath.normpath(second)


_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./\\-]+$")


def _quote(word: str, os_name: str) -> str:
    """One word for the user's shell: cmd/PowerShell take double quotes, a POSIX shell single ones."""
    if _SAFE.match(word):
        return word
    if os_name == "nt":
        return '"' + word + '"'
    return "'" + word.replace("'", "'\\''") + "'"
