"""Where an upgrade keeps its things, all under the GPT-SoVITS root (same filesystem as runtime/).

  <root>/runtime                          the runtime the launcher starts
  <root>/.envdoctor/upgrade/journal.jsonl  the transaction journal (JSON lines, fsynced)
  <root>/.envdoctor/lock                   the bundle's one writer lock (envdoctor/fileio/bundlestate.py)
  <root>/.envdoctor/upgrade/tx-<id>/       one transaction: stage/ (candidate), backup/ (the replaced
                                           runtime after an upgrade), rejected/ (after a rollback), meta.json
  <root>/.envdoctor/upgrade/trash/         trees being deleted (renamed here first, so a half-deleted
                                           tree never sits where something expects a whole one)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from envdoctor.upgrade.errors import UpgradeError

# A transaction id names a folder (tx-<id>): it comes back from the journal, which is a file anyone
# can edit, so it must be a plain name before it is joined to any path. new_txid() makes
# 20261205T075549Z-1a2b3c; older or hand-made ids only need to be plain names.
_TXID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")


def is_valid_txid(value: object) -> bool:
    return isinstance(value, str) and _TXID.fullmatch(value) is not None and ".." not in value


def inside(path: str, folder: str) -> bool:
    """True when `path` (its parent resolved, the last part taken as named) is `folder` or below it."""
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    full = os.path.join(parent, os.path.basename(os.path.abspath(path)))
    base = os.path.realpath(folder)
    return full == base or full.startswith(base.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Layout:
    root: str
    runtime_name: str = "runtime"

    @property
    def runtime(self) -> str:
        return os.path.join(self.root, self.runtime_name)

    @property
    def state_dir(self) -> str:
        return os.path.join(self.root, ".envdoctor", "upgrade")

    @property
    def journal(self) -> str:
        return os.path.join(self.state_dir, "journal.jsonl")

    @property
    def lock(self) -> str:
        return os.path.join(self.root, ".envdoctor", "lock")  # the bundle's, shared with configure

    @property
    def trash(self) -> str:
        return os.path.join(self.state_dir, "trash")

    def tx_dir(self, txid: str) -> str:
        if not is_valid_txid(txid):
            raise UpgradeError("safety.bad_txid", txid=str(txid)[:80], path=self.journal)
        return os.path.join(self.state_dir, f"tx-{txid}")

    def stage(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "stage")

    def backup(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "backup")

    def rejected(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "rejected")

    def meta(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "meta.json")

    def manifest(self, txid: str) -> str:
        """What the runtime held when this transaction replaced it (see upgrade/manifest.py)."""
        return os.path.join(self.tx_dir(txid), "manifest.json")


def layout_for_runtime(runtime_dir: str) -> Layout:
    """The layout whose runtime is this folder (its parent is the GPT-SoVITS root)."""
    path = os.path.abspath(runtime_dir).rstrip(os.sep)
    return Layout(os.path.dirname(path), os.path.basename(path))
