"""A cache of scan results keyed by each file's stamp, so a launcher's repeated check reads no library."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Dict, Optional

from envdoctor.probes.fatbin.format import SCANNER_VERSION
from envdoctor.probes.fatbin.results import BinaryScan


class ScanCache:
    """One JSON file per scanned path (envdoctor's JsonCache, namespace "fatbin"), stamped with
    (realpath, size, mtime_ns, inode).

    A hit re-reads nothing of the binary.  Unreadable, malformed or stale entries are misses;
    JsonCache writes atomically, and a cache that cannot be written costs speed, never correctness.
    """

    def __init__(self, directory: str, embedded: bool = True) -> None:
        self.directory = os.fspath(directory)
        self.embedded = embedded
        self.hits = 0
        self.misses = 0
        self._store: Any = None

    def _entries(self) -> Any:
        if self._store is None:
            # Imported when a cache is first used (hashlib, json, tempfile): a bare scan starts faster.
            from envdoctor.fileio.jsoncache import JsonCache

            self._store = JsonCache(self.directory, "fatbin")
        return self._store

    @staticmethod
    def _name(realpath: str) -> str:
        # JsonCache keys must encode as UTF-8; a path that is not (surrogate escapes) keeps its bytes as \x escapes.
        return os.fsencode(realpath).decode("utf-8", "backslashreplace")

    def _key(self, realpath: str, info: os.stat_result) -> Dict[str, Any]:
        return {
            "scanner": SCANNER_VERSION,
            "embedded": self.embedded,
            "realpath": realpath,
            "size": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "inode": info.st_ino,
        }

    def get(self, path: str) -> Optional[BinaryScan]:
        try:
            realpath = os.path.realpath(path)
            info = os.stat(realpath)
            record = self._entries().get(self._name(realpath))
            if not isinstance(record, dict) or record.get("key") != self._key(realpath, info):
                raise ValueError("stale")
            scan = BinaryScan.from_dict(record.get("scan"))
        except (OSError, ValueError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return replace(scan, path=os.fspath(path))  # the name asked for, not the real path

    def put(self, path: str, scan: BinaryScan) -> None:
        if scan.error in ("unreadable", "not-a-file"):
            return
        try:
            realpath = os.path.realpath(path)
            info = os.stat(realpath)
        except OSError:
            return
        if info.st_size != scan.size or info.st_mtime_ns != scan.mtime_ns:
            return  # changed while being scanned: do not pin a result to the new stamp
        record = {"key": self._key(realpath, info), "scan": scan.to_dict()}
        self._entries().put(self._name(realpath), record)
