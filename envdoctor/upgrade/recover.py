"""Finishing or undoing a transaction that a crash, a kill or a power loss interrupted.

Before "swap-begin" the original runtime was never written to, so the undo is to drop the stage.
From "swap-begin" on, the swap record names both trees by identity and `swap.drive` moves them to
the goal from wherever they are: forward by default (the candidate had passed verification; for a
rollback, forward finishes the rollback), or back to where they were with `reverse`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

from envdoctor.upgrade import interrupts
from envdoctor.upgrade.diskfull import disk_full_error, is_disk_full
from envdoctor.upgrade.fsutil import can_exchange, empty_trash, remove_tree
from envdoctor.upgrade.journal import Journal, Transaction
from envdoctor.upgrade.layout import Layout, is_valid_txid
from envdoctor.upgrade.lock import TxLock
from envdoctor.upgrade.proc import end_processes_in
from envdoctor.upgrade.swap import FORWARD, REVERSE, SwapSpec, drive


@dataclass(frozen=True)
class Recovered:
    txid: str
    kind: str
    outcome: str  # completed | reversed | discarded | kept | rollback-completed | rollback-reversed


def interrupted(layout: Layout) -> List[Transaction]:
    """Open transactions (read-only; for the notice every command prints)."""
    return Journal(layout).open_transactions()


def recover(layout: Layout, reverse: bool = False) -> List[Recovered]:
    journal = Journal(layout)
    done: List[Recovered] = []
    if not os.path.isdir(layout.state_dir):
        return done  # nothing was ever done here: take no lock, so a mistyped --root creates nothing
    with TxLock(layout), interrupts.guard():
        for tx in journal.open_transactions():
            try:
                with interrupts.held():  # a signal waits until this transaction is closed
                    done.append(_recover_one(layout, journal, tx, reverse))
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                # ENOSPC: every step is a journaled rename, so the state is whole; say what is in place
                raise disk_full_error(layout, journal, tx.txid, exc, "open") from exc
        remove_stale_stages(layout, journal)
        empty_trash(layout.trash)
    return done


def remove_stale_stages(layout: Layout, journal: Journal) -> List[str]:
    """Stages that no open transaction owns (left by older crashes): end what runs from them, remove them."""
    keep_ids = {t.txid for t in journal.transactions() if not t.closed or t.last_event == "kept"}
    removed: List[str] = []
    try:
        names = os.listdir(layout.state_dir)
    except OSError:
        return removed
    for name in sorted(names):
        if not name.startswith("tx-") or not is_valid_txid(name[3:]) or name[3:] in keep_ids:
            continue  # (a tx- folder whose name is not a plain id is not ours to touch)
        stage = layout.stage(name[3:])
        if os.path.isdir(stage):
            end_processes_in(stage)
            remove_tree(stage, layout.trash)
            removed.append(stage)
    return removed


def _recover_one(layout: Layout, journal: Journal, tx: Transaction, reverse: bool) -> Recovered:
    begin = tx.first("swap-begin")
    verified = tx.first("verified")
    if begin is None and verified is not None and tx.kind == "upgrade" and os.path.isdir(layout.stage(tx.txid)):
        # Verified, then interrupted before the swap: keep the candidate; the next `upgrade` swaps it in
        # (if the runtime has not changed since) without redoing the work.
        end_processes_in(layout.stage(tx.txid))
        journal.append(tx.txid, "kept", reason="interrupted", recovered=True, stage=layout.stage(tx.txid),
                       **{k: verified.get(k) for k in ("stamp", "target", "from_torch", "to_torch", "steps")})
        return Recovered(tx.txid, tx.kind, "kept")
    if begin is None:
        # Nothing was swapped yet. An upgrade's tx folder holds only its stage; a rollback's holds
        # only meta.json (its parking spot is filled by the swap itself). A pip that outlived a killed
        # envdoctor would go on writing into the stage (and recreate it): end it first.
        end_processes_in(layout.tx_dir(tx.txid))
        remove_tree(layout.tx_dir(tx.txid), layout.trash)
        journal.append(tx.txid, "aborted", reason="interrupted", recovered=True)
        return Recovered(tx.txid, tx.kind, "discarded")
    spec = SwapSpec.from_record(begin).check_within(layout.runtime, layout.state_dir)
    direction = REVERSE if reverse else FORWARD
    drive(spec, direction, journal, tx.txid, can_exchange(spec.runtime, spec.parking))
    if direction == FORWARD:
        journal.append(tx.txid, "committed", recovered=True)
        return Recovered(tx.txid, tx.kind, "rollback-completed" if tx.kind == "rollback" else "completed")
    # Journaled before the candidate is deleted: until "reversed" is on disk a later `recover` goes
    # forward and needs it (were we stopped in between, the leftover is a stale stage, removed below).
    journal.append(tx.txid, "reversed", recovered=True)
    if tx.kind == "upgrade":
        remove_tree(layout.tx_dir(tx.txid), layout.trash)
    return Recovered(tx.txid, tx.kind, "rollback-reversed" if tx.kind == "rollback" else "reversed")


def first_interrupted(layout: Layout) -> Optional[Transaction]:
    pending = interrupted(layout)
    return pending[0] if pending else None
