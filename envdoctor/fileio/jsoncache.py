"""A tiny JSON cache: one file per key, written atomically, unreadable entries treated as misses."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from envdoctor.fileio.paths import trusted_entry
from envdoctor.fileio.safeio import read_capped

MAX_ENTRY_BYTES = 64 * 1024 * 1024


class JsonCache:
    def __init__(self, directory: Union[str, Path], namespace: str) -> None:
        self.directory = Path(directory)
        self.namespace = namespace

    def _path(self, key: str) -> Path:
        # surrogatepass: a key may hold a path with undecodable bytes (a GBK folder name on Linux)
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.directory / f"{self.namespace}-{digest}.json"

    def get(self, key: str) -> Optional[Any]:
        # The cache folder is anyone's to edit: a FIFO there must not hang a check (read_capped refuses
        # it without blocking), a huge file must not fill memory, deep nesting is a miss, not a crash.
        # An entry another user owns or can write (a planted verdict in a shared cache) is a miss too.
        path = str(self._path(key))
        if not trusted_entry(path):
            return None
        try:
            record = json.loads(read_capped(path, MAX_ENTRY_BYTES).decode("utf-8"))
        except (OSError, ValueError, RecursionError):
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
