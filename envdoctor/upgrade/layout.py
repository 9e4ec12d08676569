"""Where an upgrade keeps its things, all under the GPT-SoVITS root (same filesystem as runtime/).

  <root>/runtime                          the runtime the launcher starts
  <root>/.envdoctor/upgrade/journal.jsonl  the transaction journal (JSON lines, fsynced)
  <root>/.envdoctor/upgrade/lock           held while a transaction runs (one at a time)
  <root>/.envdoctor/upgrade/tx-<id>/       one transaction: stage/ (candidate), backup/ (the replaced
                                           runtime after an upgrade), rejected/ (after a rollback), meta.json
  <root>/.envdoctor/upgrade/trash/         trees being deleted (renamed here first, so a half-deleted
                                           tree never sits where something expects a whole one)
"""

from __future__ import annotations

import os
from dataclasses import dataclass


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
        return os.path.join(self.state_dir, "lock")

    @property
    def trash(self) -> str:
        return os.path.join(self.state_dir, "trash")

    def tx_dir(self, txid: str) -> str:
        return os.path.join(self.state_dir, f"tx-{txid}")

    def stage(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "stage")

    def backup(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "backup")

    def rejected(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "rejected")

    def meta(self, txid: str) -> str:
        return os.path.join(self.tx_dir(txid), "meta.json")


def layout_for_runtime(runtime_dir: str) -> Layout:
    """The layout whose runtime is this folder (its parent is the GPT-SoVITS root)."""
    path = os.path.abspath(runtime_dir).rstrip(os.sep)
    return Layout(os.path.dirname(path), os.path.basename(path))
