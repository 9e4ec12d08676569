"""Where envdoctor keeps its caches; the override exists for tests and portable installs.

A cache is trusted: a replayed verdict is printed as is, an unpacked zipapp is run, a fix pack's wheels
are installed. So a cache folder another user owns, or can write to (an admin's ENVDOCTOR_CACHE_DIR
shared by several users, a world-writable default), is not used: envdoctor falls back to the user's
default folder, then to a private folder of its own (mode 0700) in the temporary folder, and says so
once on stderr. Entries are trusted only when this user owns them and nobody else can write them
(`trusted_entry`). POSIX only: Windows reports no owner through os.stat, and a user's LOCALAPPDATA is
private by its ACL (an ENVDOCTOR_CACHE_DIR shared on Windows is the administrator's choice to secure).
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# (path, reason, fallback) of each cache folder refused in this process, for the one-line notice
REFUSED: List[Tuple[str, str, str]] = []
_CHOSEN: Dict[Tuple[Optional[str], ...], Path] = {}
_ENV = ("ENVDOCTOR_CACHE_DIR", "XDG_CACHE_HOME", "LOCALAPPDATA", "HOME")


def configured_cache_dir() -> Path:
    """The folder the settings name, before any trust check."""
    override = os.environ.get("ENVDOCTOR_CACHE_DIR")
    if override:
        return Path(override)
    return default_cache_dir()


def default_cache_dir() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "envdoctor" / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "envdoctor"


def cache_dir() -> Path:
    """The cache folder to use: the configured one when this user may trust it, else a private one."""
    key = tuple(os.environ.get(name) for name in _ENV)
    chosen = _CHOSEN.get(key)
    if chosen is None:
        chosen = _CHOSEN[key] = _choose()
    return chosen


def _choose() -> Path:
    wanted = configured_cache_dir()
    reason = untrusted_folder(str(wanted))
    if reason is None:
        return wanted
    default = default_cache_dir()
    candidates = [default] if default != wanted else []
    if hasattr(os, "geteuid"):
        candidates.append(Path(tempfile.gettempdir()) / f"envdoctor-cache-{os.geteuid()}")
    for candidate in candidates:
        if untrusted_folder(str(candidate)) is None and _private(candidate):
            REFUSED.append((str(wanted), reason, str(candidate)))
            return candidate
    fresh = Path(tempfile.mkdtemp(prefix="envdoctor-cache-"))  # made by us, 0700: nobody else's
    REFUSED.append((str(wanted), reason, str(fresh)))
    return fresh


def _private(folder: Path) -> bool:
    """Make the fallback folder (0700) if it is missing; True when it is there and ours."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return untrusted_folder(str(folder)) is None


def untrusted_folder(path: str) -> Optional[str]:
    """None when this user may trust the folder (or it does not exist yet: it will be made as ours);
    else why not: "owner", "writable", "not_folder"."""
    if not hasattr(os, "geteuid"):
        return None  # Windows: see the module's docstring
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return "not_folder"
    return _untrusted(st)


def _untrusted(st: os.stat_result) -> Optional[str]:
    if st.st_uid != os.geteuid():
        return "owner"
    # Group-writable is fine where the group is the user's own (user-private groups, umask 002).
    if st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != os.getegid()):
        return "writable"
    return None


def trusted_entry(path: str) -> bool:
    """Whether a cache entry (file or folder, not followed if a link) is this user's alone."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return not stat.S_ISLNK(st.st_mode) and _untrusted(st) is None


def trusted_tree(path: str) -> bool:
    """trusted_entry for a folder and everything in it (a fix pack's unpacked wheels)."""
    if not trusted_entry(path):
        return False
    for folder, dirs, files in os.walk(path):
        if not all(trusted_entry(os.path.join(folder, name)) for name in dirs + files):
            return False
    return True


def host_platform() -> str:
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"
