"""One writer at a time per bundle: the upgrade's names for the bundle lock (envdoctor/fileio/bundlestate.py),
which configure, revert, fix, rollback and recover take too."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from envdoctor.fileio.bundlestate import BundleLock, check_chain
from envdoctor.fileio.bundlestate import live_holder as _live_holder
from envdoctor.fileio.bundlestate import read_holder as _read_holder
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.layout import Layout


class TxLock(BundleLock):
    def __init__(self, layout: Layout) -> None:
        super().__init__(layout.root, UpgradeError)
        self.layout = layout

    def __enter__(self) -> TxLock:
        super().__enter__()
        try:  # a linked .envdoctor/upgrade would carry the journal, stages and deletes elsewhere
            check_chain(self.layout.root, self.layout.trash, UpgradeError)
            check_chain(self.layout.root, os.path.join(self.layout.state_dir, "logs"), UpgradeError)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self


def read_holder(layout: Layout) -> Optional[Dict[str, Any]]:
    return _read_holder(layout.root)


def live_holder(layout: Layout) -> Optional[Dict[str, Any]]:
    """The process that holds the lock right now (pid, since), or None when nobody does. The OS drops
    the lock when its holder dies, so a held lock means a live writer (upgrade, rollback, configure...)."""
    return _live_holder(layout.root)
