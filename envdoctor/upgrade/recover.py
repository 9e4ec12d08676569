"""Finishing or undoing a transaction that a crash, a kill or a power loss interrupted.

Before "swap-begin" the original runtime was never written to, so the undo is to drop the stage.
From "swap-begin" on, the swap record names both trees by identity and `swap.drive` moves them to
the goal from wherever they are: forward by default (the candidate had passed verification; for a
rollback, forward finishes the rollback), or back to where they were with `reverse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from envdoctor.upgrade.fsutil import can_exchange, empty_trash, remove_tree
from envdoctor.upgrade.journal import Journal, Transaction
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import TxLock
from envdoctor.upgrade.swap import FORWARD, REVERSE, SwapSpec, drive


@dataclass(frozen=True)
class Recovered:
    txid: str
    kind: str
    outcome: str  # completed | reversed | discarded


def interrupted(layout: Layout) -> List[Transaction]:
    """Open transactions (read-only; for the notice every command prints)."""
    return Journal(layout).open_transactions()


def recover(layout: Layout, reverse: bool = False) -> List[Recovered]:
    journal = Journal(layout)
    done: List[Recovered] = []
    if not journal.open_transactions():
        return done  # nothing to do: take no lock, so a mistyped --root creates nothing
    with TxLock(layout):
        for tx in journal.open_transactions():
            done.append(_recover_one(layout, journal, tx, reverse))
        empty_trash(layout.trash)
    return done


def _recover_one(layout: Layout, journal: Journal, tx: Transaction, reverse: bool) -> Recovered:
    begin = tx.first("swap-begin")
    if begin is None:
        # Nothing was swapped yet. An upgrade's tx folder holds only its stage; a rollback's holds
        # only meta.json (its parking spot is filled by the swap itself).
        remove_tree(layout.tx_dir(tx.txid), layout.trash)
        journal.append(tx.txid, "aborted", reason="interrupted", recovered=True)
        return Recovered(tx.txid, tx.kind, "discarded")
    spec = SwapSpec.from_record(begin).check_within(layout.runtime, layout.state_dir)
    direction = REVERSE if reverse else FORWARD
    drive(spec, direction, journal, tx.txid, can_exchange(spec.runtime, spec.parking))
    if direction == FORWARD:
        journal.append(tx.txid, "committed", recovered=True)
        return Recovered(tx.txid, tx.kind, "completed")
    if tx.kind == "upgrade":
        remove_tree(layout.tx_dir(tx.txid), layout.trash)
    journal.append(tx.txid, "reversed", recovered=True)
    return Recovered(tx.txid, tx.kind, "reversed")


def first_interrupted(layout: Layout) -> Optional[Transaction]:
    pending = interrupted(layout)
    return pending[0] if pending else None
