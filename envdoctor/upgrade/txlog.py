"""A readable log of one whole transaction, beside the journal: <root>/.envdoctor/upgrade/logs/<txid>.log.

The journal is for recovery (terse, fsynced records); the log is for people and bug reports: every
journal record, the wheels with their sources and hashes, pip's own output, each verification step's
full detail, and the error that stopped the run. Writing it may fail (full disk): the log never stops
an upgrade.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Optional

from envdoctor.errors import EnvdoctorError
from envdoctor.fileio.bundlestate import append_state, ensure_dir
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout


def log_path(layout: Layout, txid: str) -> str:
    return os.path.join(layout.state_dir, "logs", f"{txid}.log")


class TxLog:
    def __init__(self, layout: Layout, txid: str) -> None:
        self.root = layout.root
        self.path = log_path(layout, txid)

    def write(self, text: str) -> None:
        stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        lines = "".join(f"{stamp} {line}\n" for line in text.rstrip("\n").splitlines() or [""])
        try:  # never through a link (state files are opened with O_NOFOLLOW; see bundlestate)
            ensure_dir(self.root, os.path.dirname(self.path))
            append_state(self.path, lines.encode("utf-8"), sync=False)
        except (OSError, EnvdoctorError):
            pass

    def block(self, title: str, body: Optional[str]) -> None:
        if body:
            self.write(f"--- {title} ---\n{body.rstrip()}\n--- end {title} ---")


class LoggedJournal(Journal):
    """The journal, with every record mirrored into the transaction's log."""

    def __init__(self, layout: Layout, log: Optional[TxLog] = None) -> None:
        super().__init__(layout)
        self.log = log

    def append(self, txid: str, event: str, **data: Any) -> None:
        if self.log is not None:
            self.log.write(f"[{event}] " + json.dumps(data, ensure_ascii=False, sort_keys=True, default=str))
        super().append(txid, event, **data)
