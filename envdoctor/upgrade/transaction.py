"""The upgrade as one journaled transaction: stage -> resolve -> download -> install -> verify -> swap.

Until "swap-begin" is journaled the original runtime is never written to: any failure (or a crash,
via `recover`) just discards the stage. From "swap-begin" on, `swap.drive` moves folders by renames
only, and recovery finishes the swap (the candidate was verified) unless asked to reverse it.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from envdoctor.atomicfile import atomic_write
from envdoctor.model import Distribution, GpuFacts, Runtime
from envdoctor.upgrade import faults
from envdoctor.upgrade.download import Downloader
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.events import Events
from envdoctor.upgrade.fsutil import (
    can_exchange,
    flush_to_disk,
    identity,
    remove_tree,
    same_filesystem,
)
from envdoctor.upgrade.install import ensure_pip, install_wheels
from envdoctor.upgrade.journal import Journal, new_txid
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import TxLock
from envdoctor.upgrade.plan import Plan
from envdoctor.upgrade.proc import StageRunner
from envdoctor.upgrade.resolve import Resolution, resolve
from envdoctor.upgrade.sources import Source
from envdoctor.upgrade.stage import AUTO, StageStats, estimate_copy_bytes, fix_script_paths, stage_tree, tree_stamp
from envdoctor.upgrade.swap import REVERSE, SwapSpec, drive, processes_using, swap_in
from envdoctor.upgrade.verify import VerifyResult, verify_stage

SPACE_MARGIN = 512 * 1024 * 1024  # never fill the disk to the last byte


@dataclass(frozen=True)
class UpgradeOptions:
    stage_method: str = AUTO
    cache_dir: str = ""
    matrix_dir: Optional[str] = None


@dataclass(frozen=True)
class UpgradeResult:
    txid: str
    status: str  # committed | verify-failed
    resolution: Resolution
    stage: StageStats
    verify: VerifyResult
    from_torch: Optional[str]
    to_torch: Optional[str]
    backup: Optional[str]
    swap_method: str = ""


def stage_python(runtime: Runtime, stage: str) -> str:
    rel = os.path.relpath(runtime.python, runtime.root)
    return os.path.join(stage, rel)


def refuse_open(journal: Journal) -> None:
    pending = journal.open_transactions()
    if pending:
        raise UpgradeError("upgrade.error.interrupted", txid=pending[0].txid, root=journal.layout.root)


def refuse_in_use(path: str) -> None:
    users = processes_using(path)
    if users:
        raise UpgradeError("upgrade.error.in_use", path=path, processes="; ".join(users[:5]))


def unpacked_size(files: Sequence[str]) -> int:
    total = 0
    for path in files:
        try:
            with zipfile.ZipFile(path) as archive:
                total += sum(info.file_size for info in archive.infolist())
        except (OSError, zipfile.BadZipFile):
            total += os.path.getsize(path) * 3
    return total


def check_space(folder: str, needed: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + SPACE_MARGIN:
        raise UpgradeError("upgrade.error.no_space", path=folder, needed_mb=(needed + SPACE_MARGIN) >> 20,
                           free_mb=free >> 20, what=what)


def run_upgrade(layout: Layout, runtime: Runtime, plan: Plan, gpus: GpuFacts, options: UpgradeOptions,
                events: Optional[Events] = None) -> UpgradeResult:
    events = events or Events()
    if plan.target is None:
        raise UpgradeError("upgrade.error.nothing_to_do", status=plan.status)
    if os.path.abspath(runtime.root) != os.path.abspath(layout.runtime):
        raise UpgradeError("upgrade.error.not_a_runtime_folder", path=runtime.root)
    journal = Journal(layout)
    with TxLock(layout):
        refuse_open(journal)
        refuse_in_use(layout.runtime)
        faults.arm_timer()
        txid = new_txid()
        stage = layout.stage(txid)
        journal.append(txid, "begin", kind="upgrade", runtime=layout.runtime, stage=stage,
                       target=list(plan.target.requirements()))
        try:
            return _run(layout, runtime, plan, gpus, options, events, journal, txid)
        except BaseException as exc:
            _abort(layout, journal, txid, exc)
            raise


def _abort(layout: Layout, journal: Journal, txid: str, exc: BaseException) -> None:
    """Before swap-begin the original was never touched: dropping the stage is the whole undo."""
    faults.kill_children()
    tx = journal.find(txid)
    if tx is None or tx.closed:
        return
    if tx.has("swap-begin"):
        try:
            spec = SwapSpec.from_record(tx.first("swap-begin") or {}).check_within(layout.runtime, layout.state_dir)
            drive(spec, REVERSE, journal, txid, can_exchange(layout.runtime, spec.incoming))
        except BaseException:
            return  # leave the transaction open: `recover` will finish the job and say so
    remove_tree(layout.tx_dir(txid), layout.trash)
    reason = exc.key if isinstance(exc, UpgradeError) else type(exc).__name__
    journal.append(txid, "reversed" if tx.has("swap-begin") else "aborted", reason=reason)


def _run(layout: Layout, runtime: Runtime, plan: Plan, gpus: GpuFacts, options: UpgradeOptions, events: Events,
         journal: Journal, txid: str) -> UpgradeResult:
    assert plan.target is not None
    tx_dir, stage = layout.tx_dir(txid), layout.stage(txid)
    os.makedirs(tx_dir, exist_ok=True)
    if not same_filesystem(tx_dir, layout.runtime):
        raise UpgradeError("upgrade.error.other_filesystem", path=tx_dir)
    # -- stage ------------------------------------------------------------------------------
    events.step("stage")
    files, _total, copy_bytes = estimate_copy_bytes(layout.runtime)
    check_space(tx_dir, copy_bytes if options.stage_method != "copy" else _total, "stage")
    before = tree_stamp(layout.runtime)
    journal.append(txid, "stage-begin", stage=stage)
    stats = stage_tree(layout.runtime, stage, options.stage_method, events.stage_progress, files)
    journal.append(txid, "staged", method=stats.method, files=stats.files, linked=stats.linked,
                   copied=stats.copied)
    py = stage_python(runtime, stage)
    source = Source(plan.index_url, plan.wheelhouse)
    # -- resolve (the stage's pip: same packages as the original, upgraded there if too old) ------
    events.step("resolve", source=source.describe())
    ensure_pip(py, source)
    resolution = resolve(py, plan.target.requirements(), plan.constraints, source, runner=StageRunner())
    journal.append(txid, "resolved", wheels=[f"{w.name}=={w.version}" for w in resolution.wheels])
    # -- download ---------------------------------------------------------------------------
    events.step("download", count=len(resolution.wheels))
    downloader = Downloader(os.path.join(options.cache_dir, "wheels"), progress=events.download_progress)
    local = [downloader.fetch(w) for w in resolution.wheels]
    journal.append(txid, "downloaded", files=[os.path.basename(p) for p in local])
    check_space(tx_dir, unpacked_size(local), "install")
    # -- install ----------------------------------------------------------------------------
    events.step("install")
    if local:
        install_wheels(py, local)
    fix_script_paths(stage, layout.runtime)
    journal.append(txid, "installed")
    # -- verify -----------------------------------------------------------------------------
    events.step("verify")
    dists = _stage_distributions(runtime, stage)
    result = verify_stage(py, gpus, plan.imports, [d.name for d in dists], matrix_dir=options.matrix_dir,
                          on_step=events.verify_step)
    if tree_stamp(layout.runtime) != before:
        raise UpgradeError("upgrade.error.original_changed", path=layout.runtime)
    from_torch = plan.current.get("torch")
    to_torch = next((d.version for d in dists if d.name == "torch"), None)
    if not result.ok:
        failure = result.failure
        journal.append(txid, "verify-failed", step=failure.name if failure else "?",
                       detail=failure.detail if failure else "")
        remove_tree(tx_dir, layout.trash)
        journal.append(txid, "aborted", reason="verify-failed")
        return UpgradeResult(txid, "verify-failed", resolution, stats, result, from_torch, to_torch, None)
    journal.append(txid, "verified", steps=[[s.name, s.status] for s in result.steps])
    # -- swap -------------------------------------------------------------------------------
    events.step("swap")
    refuse_in_use(layout.runtime)
    meta = {"txid": txid, "from_torch": from_torch, "to_torch": to_torch, "runtime": layout.runtime,
            "resolution": [f"{w.name}=={w.version}" for w in resolution.wheels]}
    atomic_write(layout.meta(txid), json.dumps(meta, indent=1).encode("utf-8"))
    # What the replaced runtime holds, so a rollback can verify the backup before trusting it.
    from envdoctor.upgrade.manifest import record as record_manifest

    record_manifest(layout.runtime, layout.manifest(txid))
    flush_to_disk()
    spec = SwapSpec(layout.runtime, stage, identity(stage), layout.backup(txid),  # type: ignore[arg-type]
                    identity(layout.runtime))  # type: ignore[arg-type]
    exchange = swap_in(spec, journal, txid)
    journal.append(txid, "committed", backup=layout.backup(txid))
    return UpgradeResult(txid, "committed", resolution, stats, result, from_torch, to_torch, layout.backup(txid),
                         "exchange" if exchange else "rename")


def _stage_sites(runtime: Runtime, stage: str) -> List[str]:
    """The stage's site-packages: the runtime's, moved to the stage (same relative paths)."""
    out = []
    for site in runtime.site_packages:
        rel = os.path.relpath(site, runtime.root)
        if not rel.startswith(".."):
            out.append(os.path.join(stage, rel))
    return out


def _stage_distributions(runtime: Runtime, stage: str) -> Tuple[Distribution, ...]:
    """What pip left in the stage, read once for verification and for the new torch version."""
    from envdoctor.probes.torchfiles import read_distributions

    return read_distributions(_stage_sites(runtime, stage))
