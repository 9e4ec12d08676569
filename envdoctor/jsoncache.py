"""A tiny JSON cache: one file per key, written atomically, unreadable entries treated as misses."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional


class JsonCache:
    def __init__(self, directory: Path, namespace: str) -> None:
        self.directory = Path(directory)
        self.namespace = namespace

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{self.namespace}-{digest}.json"

    def get(self, key: str) -> Optional[Any]:
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        return record.get("value")

    def put(self, key: str, value: Any) -> None:
        """Best effort: a cache that cannot be written only costs speed, never correctness."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=str(self.directory), prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"key": key, "value": value}, handle)
                os.replace(tmp, self._path(key))
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass


def stamp(path: str) -> str:
    """The one stamp of a file or folder: size, mtime and inode ('missing' when absent). A file replaced
    by another of the same size and time (a reinstall, an atomic rename) still gets a new inode."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def file_stamp(path: str) -> str:
    """The path and its stamp, as a cache-key fragment."""
    return f"{path}:{stamp(path)}"
