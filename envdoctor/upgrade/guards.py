"""The two refusals every change to the runtime starts with: an unfinished transaction, or a runtime that
a running process still holds open. Kept apart from transaction.py so that `rollback` does not load the
upgrade's verification (diagnosis, doctor, matrix) just to ask these two questions."""

from __future__ import annotations

from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.swap import processes_using


def refuse_open(journal: Journal) -> None:
    pending = journal.open_transactions()
    if pending:
        raise UpgradeError("upgrade.error.interrupted", txid=pending[0].txid, root=journal.layout.root)


def refuse_in_use(path: str) -> None:
    users = processes_using(path)
    if users:
        raise UpgradeError("upgrade.error.in_use", path=path, processes="; ".join(users[:5]))
