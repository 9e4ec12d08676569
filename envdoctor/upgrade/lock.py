"""One transaction at a time per bundle: an OS file lock, released by the OS if the holder dies."""

from __future__ import annotations

import os
import sys
from typing import IO, Optional

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
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise UpgradeError("upgrade.error.locked", path=self.layout.root) from exc
        self._handle = handle
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()  # closing releases the lock on both systems
            self._handle = None
