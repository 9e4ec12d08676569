"""Where envdoctor keeps its caches; the override exists for tests and portable installs."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    override = os.environ.get("ENVDOCTOR_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "envdoctor" / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "envdoctor"


def host_platform() -> str:
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"
