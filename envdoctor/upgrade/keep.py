"""What upgrades and rollbacks keep on disk, how big it is, and freeing it (issue 28 item 5).

Kept things: runtimes set aside (tx-*/backup after an upgrade, tx-*/rejected after a rollback), verified
candidates waiting for the runtime to be free (tx-*/stage of a "kept" transaction), and the download
cache. A kept candidate whose runtime changed since it was verified can never be swapped in (`upgrade`
only reuses one for the same runtime): it is an orphan, listed as such and pruned.

Sizes count each file once (hard links: a stage or backup shares most files with the runtime), and
`frees` only what deleting the folder would really free: files none of whose links lie outside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from envdoctor.upgrade.fsutil import remove_tree
from envdoctor.upgrade.journal import Journal, Transaction
from envdoctor.upgrade.layout import Layout, is_valid_txid
from envdoctor.upgrade.lock import TxLock
from envdoctor.upgrade.trees import KeptTree, kept_trees, sweep_empty

BACKUP, REJECTED, CANDIDATE, ORPHAN, CACHE, PARTIAL = "backup", "rejected", "candidate", "orphan", "cache", "partial"


@dataclass(frozen=True)
class KeptItem:
    kind: str  # backup | rejected | candidate | orphan | cache | partial
    path: str
    size: int  # bytes of its files (each inode once)
    frees: int  # bytes that deleting it frees (files with no link outside it)
    txid: Optional[str] = None


def tree_size(path: str) -> Tuple[int, int]:
    """(size, frees) of a folder, links not followed."""
    size = frees = 0
    seen: Dict[Tuple[int, int], List[int]] = {}  # inode -> [links seen inside, st_nlink, size]
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            entry = seen.get(key)
            if entry is None:
                seen[key] = [1, st.st_nlink, st.st_size]
                size += st.st_size
            else:
                entry[0] += 1
    for inside, links, length in seen.values():
        if inside >= links:
            frees += length
    return size, frees


def orphans(layout: Layout, journal: Optional[Journal] = None) -> List[Transaction]:
    """Kept candidates that can no longer be used: their runtime changed since they were verified (or
    their stage is gone)."""
    from envdoctor.upgrade.stage import stamp_digest, tree_stamp  # the stage module is heavier: only here

    journal = journal or Journal(layout)
    kept = [t for t in journal.transactions() if t.last_event == "kept" and t.kind == "upgrade"]
    if not kept:
        return []
    now = stamp_digest(tree_stamp(layout.runtime)) if os.path.isdir(layout.runtime) else ""
    return [t for t in kept if t.records[-1].get("stamp") != now or not os.path.isdir(layout.stage(t.txid))]


def inventory(layout: Layout, cache_dir: Optional[str] = None) -> List[KeptItem]:
    """Everything kept, with sizes; runtimes newest first, then candidates, then the download cache."""
    out: List[KeptItem] = []
    try:
        names = sorted(os.listdir(layout.state_dir), reverse=True)
    except OSError:
        names = []
    journal = Journal(layout)
    orphan_ids = {t.txid for t in orphans(layout, journal)} if names else set()
    kept_ids = {t.txid for t in journal.transactions() if t.last_event == "kept"} if names else set()
    for name in names:
        txid = name[3:]
        if not name.startswith("tx-") or not is_valid_txid(txid):
            continue
        for kind, path in ((BACKUP, layout.backup(txid)), (REJECTED, layout.rejected(txid))):
            if os.path.isdir(path) and not os.path.islink(path):
                out.append(KeptItem(kind, path, *tree_size(path), txid=txid))
        stage = layout.stage(txid)
        if txid in kept_ids and os.path.isdir(stage) and not os.path.islink(stage):
            out.append(KeptItem(ORPHAN if txid in orphan_ids else CANDIDATE, stage, *tree_size(stage), txid=txid))
    if cache_dir:
        wheels = os.path.join(cache_dir, "wheels")
        partial = [os.path.join(wheels, n) for n in _names(wheels) if n.startswith("unhashed-")]
        for path in partial:
            out.append(KeptItem(PARTIAL, path, *tree_size(path)))
        if os.path.isdir(wheels):
            size, _frees = tree_size(wheels)
            size -= sum(item.size for item in out if item.kind == PARTIAL)
            if size > 0:
                out.append(KeptItem(CACHE, wheels, size, size))
    return out


def _names(folder: str) -> List[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def prune_orphans(layout: Layout) -> List[str]:
    """Delete orphaned candidates and close their transactions (under the lock, never while a transaction
    is open: recover needs its trees). Returns their ids."""
    from envdoctor.upgrade.guards import refuse_open

    if not os.path.isdir(layout.state_dir):
        return []
    journal = Journal(layout)
    with TxLock(layout):
        refuse_open(journal)
        return _prune_orphans_locked(layout, journal)


def _prune_orphans_locked(layout: Layout, journal: Journal) -> List[str]:
    done = []
    for tx in orphans(layout, journal):
        stage = layout.stage(tx.txid)
        if os.path.isdir(stage):
            remove_tree(layout.tx_dir(tx.txid), layout.trash)
        journal.append(tx.txid, "aborted", reason="orphaned")
        done.append(tx.txid)
    return done


def prune_partial_downloads(cache_dir: Optional[str]) -> List[str]:
    """unhashed-<pid> folders of runs that are over (an older envdoctor left one per run)."""
    import shutil

    if not cache_dir:
        return []
    wheels = os.path.join(cache_dir, "wheels")
    removed = []
    for name in _names(wheels):
        pid = name[len("unhashed-"):]
        if not name.startswith("unhashed-") or not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(os.path.join(wheels, name), ignore_errors=True)
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True  # exists but not ours (or cannot tell): leave it
    return True


def newest_first(layout: Layout, journal: Journal) -> List[KeptTree]:
    """Runtimes set aside, newest first by the journal's order (ids made in the same second do not sort
    by time); trees the journal does not know come last."""
    order = {t.txid: n for n, t in enumerate(journal.transactions())}
    return sorted(kept_trees(layout), key=lambda t: -order.get(t.txid, -1))


def after_commit(layout: Layout, keep: int, cache_dir: Optional[str] = None) -> Dict[str, List[str]]:
    """After an upgrade or rollback that passed its checks: keep the newest `keep` runtimes set aside,
    drop candidates the change orphaned and finished runs' partial downloads. Never fails the command
    that called it: what cannot be pruned now stays listed by `rollback --list`."""
    from envdoctor.upgrade.guards import refuse_open

    out: Dict[str, List[str]] = {"pruned": [], "orphans": [], "partial": []}
    try:
        journal = Journal(layout)
        with TxLock(layout):
            refuse_open(journal)
            for tree in newest_first(layout, journal)[max(keep, 0):]:
                remove_tree(tree.path, layout.trash)
                out["pruned"].append(tree.txid)
            sweep_empty(layout)
            out["orphans"] = _prune_orphans_locked(layout, journal)
        out["partial"] = prune_partial_downloads(cache_dir)
    except Exception:  # noqa: BLE001 - housekeeping: the change itself is done and journaled
        pass
    return out


def totals(items: List[KeptItem]) -> Dict[str, int]:
    runtimes = [i for i in items if i.kind in (BACKUP, REJECTED, CANDIDATE, ORPHAN)]
    return {"runtimes": len(runtimes), "runtime_bytes": sum(i.frees for i in runtimes),
            "cache_bytes": sum(i.size for i in items if i.kind in (CACHE, PARTIAL))}
