"""A full disk (ENOSPC, or a quota) in the middle of a swap or a `recover`: not an "unexpected error".

The journal is appended record by record (each fsynced) and every move is a rename, so whatever failed,
the state on disk is whole: say which runtime is in place, how much is free, and to run `recover`
once there is space (or, where the step was undone, that nothing is left to do).
"""

from __future__ import annotations

import errno
import os
import shutil
from typing import Optional

from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.fsutil import identity
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def disk_full_error(layout: Layout, journal: Journal, txid: Optional[str], exc: BaseException,
                    outcome: str) -> UpgradeError:
    """ENOSPC while the swap (or `recover`) ran: the journal is written record by record and every move is
    a rename, so the state is whole; say which runtime is in place and to free space, then recover."""
    try:
        free_mb = shutil.disk_usage(layout.state_dir if os.path.isdir(layout.state_dir) else layout.root).free >> 20
    except OSError:
        free_mb = 0
    params = dict(path=layout.root, detail=str(exc)[:300], free_mb=free_mb, root=layout.root,
                  state=layout.state_dir, runtime=layout.runtime)
    if outcome in ("aborted", "reversed"):
        return UpgradeError("upgrade.error.disk_full_undone", **params)
    try:
        tx = journal.find(txid) if txid else None
    except (OSError, UpgradeError):
        tx = None
    begin = tx.first("swap-begin") if tx is not None else None
    in_place = identity(layout.runtime)
    if begin is not None and in_place is not None and list(in_place) == begin.get("incoming_id"):
        which = "new"
    elif in_place is not None:
        which = "old"
    else:
        which = "none"
    if which == "new" and tx is not None and tx.kind == "rollback":
        which = "restored"  # a rollback's incoming tree is the kept runtime the user asked for
    return UpgradeError(f"upgrade.error.disk_full_{which}", **params)
