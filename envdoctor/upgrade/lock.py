"""One transaction at a time per bundle: an OS file lock, released by the OS if the holder dies."""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import IO, Any, Dict, Optional

from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.layout import Layout


class TxLock:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._handle: Optional[IO[bytes]] = None

    def __enter__(self) -> TxLock:
        os.makedirs(self.layout.state_dir, exist_ok=True)
        handle = open(self.layout.lock, "a+b")
        try:
            if sys.platform == "win32":
                import msvcrt  # Windows only

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl  # POSIX only

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            holder = read_holder(self.layout) or {}
            raise UpgradeError("upgrade.error.locked", path=self.layout.root, pid=holder.get("pid", "?"),
                               since=holder.get("since", "?")) from exc
        self._handle = handle
        # who holds it, since when: read by other commands to tell a running upgrade from an interrupted one
        info = {"pid": os.getpid(), "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                "argv": sys.argv[:6]}
        try:
            with open(self.layout.lock + ".holder", "w", encoding="utf-8") as out:
                json.dump(info, out)
        except OSError:
            pass
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()  # closing releases the lock on both systems
            self._handle = None


def read_holder(layout: Layout) -> Optional[Dict[str, Any]]:
    try:
        with open(layout.lock + ".holder", encoding="utf-8") as handle:
            value = json.load(handle)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def live_holder(layout: Layout) -> Optional[Dict[str, Any]]:
    """The process that holds the lock right now (pid, since), or None when nobody does. The OS drops
    the lock when its holder dies, so a held lock means a live upgrade, rollback or recover."""
    if not os.path.exists(layout.lock):
        return None
    try:
        handle = open(layout.lock, "a+b")  # noqa: SIM115 - closed in the finally below
    except OSError:
        return None
    try:
        if sys.platform == "win32":
            import msvcrt  # Windows only

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl  # POSIX only

            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except OSError:
        return read_holder(layout) or {"pid": "?", "since": "?"}
    finally:
        handle.close()
