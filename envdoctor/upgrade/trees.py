"""The runtimes kept next to the current one: backups (replaced by an upgrade) and rejected ones
(replaced by a rollback). Listing and pruning; each is a folder tx-<id>/backup or tx-<id>/rejected."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable, List, Optional

from envdoctor.fileio.safeio import read_capped
from envdoctor.probes.runtime import find_runtime
from envdoctor.probes.torchfiles import read_distributions
from envdoctor.upgrade.fsutil import remove_tree
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout, is_valid_txid

MAX_META_BYTES = 1024 * 1024


@dataclass(frozen=True)
class KeptTree:
    txid: str
    kind: str  # backup | rejected
    path: str
    meta: dict

    @property
    def torch(self) -> Optional[str]:
        """The torch version inside the kept tree, read from its files (not from what meta claims)."""
        try:
            runtime = find_runtime(root=self.path)
        except Exception:
            return None
        dist = next((d for d in read_distributions(runtime.site_packages) if d.name == "torch"), None)
        return dist.version if dist else None


def read_meta(layout: Layout, txid: str) -> dict:
    """A kept tree's meta.json; {} when it is unusable. Untrusted like the journal: a FIFO is refused
    without blocking (`rollback --list` hung on one), a huge or deeply nested file is unusable, not a crash."""
    try:
        value = json.loads(read_capped(layout.meta(txid), MAX_META_BYTES).decode("utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}


def kept_trees(layout: Layout) -> List[KeptTree]:
    """Newest first."""
    out = []
    try:
        names = os.listdir(layout.state_dir)
    except OSError:
        return []
    for name in names:
        if not name.startswith("tx-"):
            continue
        txid = name[3:]
        if not is_valid_txid(txid):
            continue  # not a folder envdoctor made (tx-.. would name the state folder's parent)
        for kind, path in (("backup", layout.backup(txid)), ("rejected", layout.rejected(txid))):
            if os.path.isdir(path):
                out.append(KeptTree(txid, kind, path, read_meta(layout, txid)))
    return sorted(out, key=lambda t: t.txid, reverse=True)


def prune(layout: Layout, keep: int, progress: Optional[Callable[[str, int, int], None]] = None) -> List[KeptTree]:
    """Delete all but the newest `keep` kept trees; returns those deleted. `progress(txid, done, total)`
    in bytes. Transaction folders left holding no tree (a restored backup leaves its meta.json behind)
    are removed too, unless their transaction is still open."""
    removed: List[KeptTree] = []
    for tree in kept_trees(layout)[max(keep, 0):]:
        tick = (lambda done, total, txid=tree.txid: progress(txid, done, total)) if progress else None
        remove_tree(tree.path, layout.trash, tick)
        removed.append(tree)
    sweep_empty(layout)
    return removed


def sweep_empty(layout: Layout) -> List[str]:
    open_ids = {t.txid for t in Journal(layout).open_transactions()}
    swept: List[str] = []
    try:
        names = os.listdir(layout.state_dir)
    except OSError:
        return swept
    for name in names:
        tx_dir = os.path.join(layout.state_dir, name)
        if (not name.startswith("tx-") or not is_valid_txid(name[3:]) or name[3:] in open_ids
                or os.path.islink(tx_dir) or not os.path.isdir(tx_dir)):
            continue
        if not any(os.path.isdir(os.path.join(tx_dir, d)) for d in ("backup", "rejected", "stage")):
            remove_tree(tx_dir, layout.trash)
            swept.append(tx_dir)
    return swept
