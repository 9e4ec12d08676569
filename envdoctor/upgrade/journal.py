"""The transaction journal: JSON lines under <root>/.envdoctor/upgrade/journal.jsonl.

Each record is written and fsynced (file, and the folder when the file is new) *before* the step it
announces, so after a crash the journal always knows at least as much as the disk shows. A torn last
line (power loss during the write) is ignored. Recovery trusts folder identities on disk, not the
last record alone: a rename may or may not have happened after its record was written.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from envdoctor.fileio.bundlestate import append_state, ensure_dir, read_state
from envdoctor.process import faults
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.fsutil import fsync_dir
from envdoctor.upgrade.layout import Layout, is_valid_txid

MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # years of upgrades; a bigger "journal" is not ours

# "kept": a verified candidate whose swap was refused (runtime in use) or interrupted; it waits in its
# stage for the next `upgrade`, which swaps it in without redoing the work.
CLOSED_EVENTS = ("committed", "aborted", "reversed", "kept")


def new_txid() -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


@dataclass
class Transaction:
    txid: str
    kind: str  # "upgrade" | "rollback"
    records: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def last_event(self) -> str:
        return self.records[-1]["event"] if self.records else ""

    @property
    def closed(self) -> bool:
        return self.last_event in CLOSED_EVENTS

    def has(self, event: str) -> bool:
        return any(r["event"] == event for r in self.records)

    def first(self, event: str) -> Optional[Dict[str, Any]]:
        return next((r for r in self.records if r["event"] == event), None)


def _well_formed(record: Any) -> bool:
    return (isinstance(record, dict) and is_valid_txid(record.get("tx"))
            and isinstance(record.get("event"), str) and isinstance(record.get("kind", ""), str))


class Journal:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.path = layout.journal
        self.skipped = 0  # records of the last read that were not well formed

    def append(self, txid: str, event: str, **data: Any) -> None:
        record = {"tx": txid, "event": event,
                  "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        record.update(data)
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        faults.check_space()
        # Never through a link: a journal (or .envdoctor) planted as a link would carry the append outside.
        ensure_dir(self.layout.root, self.layout.state_dir, UpgradeError)
        if append_state(self.path, line.encode("utf-8"), UpgradeError):
            fsync_dir(self.layout.state_dir)
        faults.hit(event)

    def records(self) -> List[Dict[str, Any]]:
        """The valid records. The journal is a file anyone can edit: a line whose `tx` is not a plain
        name (`../../models`), or whose fields have the wrong types, is not ours and is skipped, so
        no path is ever built from it. A journal that is not a regular file is an error."""
        if not os.path.lexists(self.path):
            return []
        try:
            data = read_state(self.path, MAX_JOURNAL_BYTES, UpgradeError)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise UpgradeError("safety.path.unreadable", path=self.path, detail=exc.strerror or str(exc)) from exc
        out = []
        self.skipped = 0
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue  # a torn write from a power loss: the step it announced never started
            if _well_formed(record):
                out.append(record)
            else:
                self.skipped += 1
        return out

    def transactions(self) -> List[Transaction]:
        by_id: Dict[str, Transaction] = {}
        for record in self.records():
            tx = by_id.get(record["tx"])
            if tx is None:
                tx = by_id[record["tx"]] = Transaction(record["tx"], record.get("kind", "upgrade"))
            if record["event"] == "begin":
                tx.kind = record.get("kind", "upgrade")
            tx.records.append(record)
        return list(by_id.values())

    def open_transactions(self) -> List[Transaction]:
        return [t for t in self.transactions() if not t.closed]

    def find(self, txid: str) -> Optional[Transaction]:
        return next((t for t in self.transactions() if t.txid == txid), None)
