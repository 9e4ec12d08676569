"""`rollback`: put a kept runtime (by default the one the last upgrade replaced) back in place.

It is a swap like the upgrade's, journaled the same way: the kept tree comes in, the current runtime
is parked as tx-<id>/rejected (and can itself be brought back with `rollback --to <id>`). Only
renames: the time does not depend on the runtime's size.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

from envdoctor.fileio.atomicfile import atomic_write
from envdoctor.probes.runtime import find_runtime
from envdoctor.upgrade import interrupts, manifest
from envdoctor.upgrade.diskfull import disk_full_error, is_disk_full
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.fsutil import identity
from envdoctor.upgrade.guards import refuse_in_use, refuse_open
from envdoctor.upgrade.journal import Journal, new_txid
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import TxLock
from envdoctor.upgrade.swap import SwapSpec, swap_in, unpin_link
from envdoctor.upgrade.trees import KeptTree, kept_trees, prune


@dataclass(frozen=True)
class RollbackResult:
    txid: str
    restored: KeptTree
    torch: Optional[str]  # the restored runtime's torch, read before it moved
    parked: str
    seconds: float


def choose(layout: Layout, wanted: Optional[str]) -> KeptTree:
    trees = kept_trees(layout)
    if not trees:  # nothing kept at all: no list of kept runtimes to offer, with --to or without
        raise UpgradeError("upgrade.error.nothing_kept", root=layout.root)
    if wanted:
        match = [t for t in trees if t.txid == wanted or t.txid.startswith(wanted)]
        if len(match) != 1:
            raise UpgradeError("upgrade.error.no_such_backup", txid=wanted,
                               known=", ".join(t.txid for t in trees) or "-")
        return match[0]
    backups = [t for t in trees if t.kind == "backup"]
    if not backups:
        raise UpgradeError("upgrade.error.no_backup", root=layout.root,
                           known=", ".join(f"{t.txid} ({t.kind})" for t in trees) or "-")
    return backups[0]


def verify_kept(layout: Layout, tree: KeptTree) -> None:
    """Refuse a kept runtime that is not whole: against the manifest recorded when it was set aside,
    or, for one kept by an older envdoctor (no manifest), at least an interpreter and site-packages."""
    try:
        recorded = manifest.load(layout.manifest(tree.txid))
    except ValueError as exc:
        raise UpgradeError("safety.backup_damaged", path=tree.path, problem=str(exc)) from exc
    if recorded is not None:
        problem = manifest.verify(tree.path, recorded)
        if problem:
            raise UpgradeError("safety.backup_damaged", path=tree.path, problem=problem)
        return
    try:
        runtime = find_runtime(root=tree.path)
    except Exception as exc:
        raise UpgradeError("safety.backup_unverified", path=tree.path) from exc
    if not runtime.site_packages or not all(os.path.isdir(s) for s in runtime.site_packages):
        raise UpgradeError("safety.backup_unverified", path=tree.path)


def rollback(layout: Layout, wanted: Optional[str] = None) -> RollbackResult:
    journal = Journal(layout)
    if not os.path.isdir(layout.state_dir):
        raise UpgradeError("upgrade.error.nothing_kept", root=layout.root)  # nothing kept: create nothing
    with TxLock(layout), interrupts.guard():
        refuse_open(journal)
        tree = choose(layout, wanted)
        verify_kept(layout, tree)
        refuse_in_use(layout.runtime)
        started = time.monotonic()
        txid = new_txid()
        current = identity(layout.runtime)
        incoming = identity(tree.path)
        if current is None or incoming is None:
            raise UpgradeError("upgrade.error.tree_missing", which="runtime" if current is None else tree.path,
                               runtime=layout.runtime)
        journal.append(txid, "begin", kind="rollback", restores=tree.txid)
        os.makedirs(layout.tx_dir(txid), exist_ok=True)
        torch = tree.torch
        meta = {"txid": txid, "kind": "rollback", "restored": tree.txid, "to_torch": torch}
        atomic_write(layout.meta(txid), json.dumps(meta, indent=1).encode("utf-8"))
        manifest.record(layout.runtime, layout.manifest(txid))  # the runtime about to be parked
        spec = SwapSpec(layout.runtime, tree.path, incoming, layout.rejected(txid), current)
        with interrupts.held():  # a signal waits for the renames and the commit (see interrupts.py)
            try:
                swap_in(spec, journal, txid)
                journal.append(txid, "committed")
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                raise disk_full_error(layout, journal, txid, exc, "open") from exc  # left for `recover`
            interrupts.hold_to_the_end()
        link_text = tree.meta.get("runtime_link")
        if isinstance(link_text, str):
            unpin_link(layout.runtime, link_text)  # the user's own relative `runtime` link, as it was
        return RollbackResult(txid, tree, torch, layout.rejected(txid), time.monotonic() - started)


def prune_kept(layout: Layout, keep: int,
               progress: Optional[Callable[[str, int, int], None]] = None) -> List[KeptTree]:
    """`rollback --prune`: delete all but the newest `keep` kept runtimes, under the transaction lock
    and never while a transaction is open (recover needs its trees). progress(txid, done, total) in bytes."""
    if not os.path.isdir(layout.state_dir):  # nothing kept: nothing to lock, nothing to create
        return []
    with TxLock(layout):
        refuse_open(Journal(layout))
        return prune(layout, keep, progress)
