"""The upgrade as one journaled transaction: stage -> resolve -> download -> install -> verify -> swap.

Until "swap-begin" is journaled the original runtime is never written to: any failure (or a crash,
via `recover`) just discards the stage. From "swap-begin" on, `swap.drive` moves folders by renames
only, and recovery finishes the swap (the candidate was verified) unless asked to reverse it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import zipfile
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

from envdoctor.fileio.atomicfile import atomic_write
from envdoctor.model import Distribution, GpuFacts, Runtime
from envdoctor.probes.torchfiles import read_distributions
from envdoctor.process import faults
from envdoctor.upgrade import interrupts
from envdoctor.upgrade.diskfull import disk_full_error, is_disk_full
from envdoctor.upgrade.download import Downloader
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.events import Events
from envdoctor.upgrade.fsutil import (
    can_exchange,
    flush_to_disk,
    identity,
    remove_tree,
    rename_durable,
    same_filesystem,
)
from envdoctor.upgrade.guards import refuse_in_use, refuse_open
from envdoctor.upgrade.install import install_wheels
from envdoctor.upgrade.journal import Journal, Transaction, new_txid
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.lock import TxLock
from envdoctor.upgrade.manifest import record as record_manifest
from envdoctor.upgrade.plan import Plan
from envdoctor.upgrade.resolve import Resolution
from envdoctor.upgrade.stage import (
    AUTO,
    StageStats,
    estimate_copy_bytes,
    fix_script_paths,
    movable_problem,
    stage_tree,
    stamp_digest,
    tree_stamp,
)
from envdoctor.upgrade.swap import REVERSE, SwapSpec, drive, pin_link, processes_using, swap_in
from envdoctor.upgrade.txlog import LoggedJournal, TxLog, log_path
from envdoctor.upgrade.verify import VerifyResult, VerifyStep, baseline, verify_stage
from envdoctor.upgrade.windows import fix_exe_launchers

SPACE_MARGIN = 512 * 1024 * 1024  # never fill the disk to the last byte


@dataclass(frozen=True)
class UpgradeOptions:
    stage_method: str = AUTO
    cache_dir: str = ""
    matrix_dir: Optional[str] = None
    find_links: Tuple[str, ...] = ()


@dataclass(frozen=True)
class UpgradeResult:
    txid: str
    status: str  # committed | verify-failed | kept
    resolution: Resolution
    stage: Optional[StageStats]
    verify: VerifyResult
    from_torch: Optional[str]
    to_torch: Optional[str]
    backup: Optional[str]
    swap_method: str = ""
    log: str = ""  # the transaction's log file (beside the journal)
    in_use: str = ""  # status "kept": the processes that run from the runtime
    reused: Optional[str] = None  # the transaction whose verified candidate was swapped in


class InstallWatch:
    """Install progress: pip says nothing while it unpacks, so watch the bytes the filesystem gains
    (approximate: other writers on the same disk count too) against the wheels' unpacked size."""

    def __init__(self, folder: str, expected: int, progress) -> None:
        self.folder, self.expected, self.progress = folder, expected, progress
        self._stop = threading.Event()

    def __enter__(self) -> InstallWatch:
        start = shutil.disk_usage(self.folder).used

        def poll() -> None:
            while not self._stop.wait(0.5):
                grown = max(0, shutil.disk_usage(self.folder).used - start)
                self.progress(min(grown, self.expected), self.expected)

        self.progress(0, self.expected)
        threading.Thread(target=poll, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if exc[0] is None:
            self.progress(self.expected, self.expected)


def stage_python(runtime: Runtime, stage: str) -> str:
    rel = os.path.relpath(runtime.python, runtime.root)
    return os.path.join(stage, rel)


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
                events: Optional[Events] = None, resolution: Optional[Resolution] = None) -> UpgradeResult:
    """`resolution` is the preflight's (metadata only, every rule checked): the exact wheels to fetch."""
    events = events or Events()
    if plan.target is None:
        raise UpgradeError("upgrade.error.nothing_to_do", status=plan.status)
    if plan.blockers or resolution is None:
        raise UpgradeError("upgrade.error.not_checked")
    if os.path.abspath(runtime.root) != os.path.abspath(layout.runtime):
        raise UpgradeError("upgrade.error.not_a_runtime_folder", path=runtime.root)
    journal = LoggedJournal(layout)
    with TxLock(layout), interrupts.guard():
        refuse_open(journal)
        refuse_in_use(layout.runtime)
        problem = movable_problem(layout.runtime)
        if problem is not None:
            raise problem
        faults.arm_timer()
        txid = new_txid()
        log = journal.log = TxLog(layout, txid)
        log.write(f"envdoctor upgrade of {layout.runtime}: {plan.current} -> {list(plan.target.requirements())}")
        for wheel in resolution.wheels:
            log.write(f"wheel {wheel.filename} from {wheel.url} sha256={wheel.sha256 or '(none published)'} "
                      f"size={wheel.size} build={wheel.build or '-'}")
        stage = layout.stage(txid)
        target = list(plan.target.requirements())
        kept = find_kept(layout, journal, target)
        journal.append(txid, "begin", kind="upgrade", runtime=layout.runtime, stage=stage, target=target,
                       reuses=kept.txid if kept else None)
        try:
            if kept is not None:
                log.write(f"reusing the candidate verified in {kept.txid} (the runtime is unchanged since)")
                done = _reuse_kept(layout, journal, kept, txid, events, resolution)
                return replace(done, reused=kept.txid)
            return _run(layout, runtime, plan, gpus, options, events, journal, txid, resolution)
        except BaseException as exc:
            detail = f"{exc.key} {exc.params}" if isinstance(exc, UpgradeError) else f"{type(exc).__name__}: {exc}"
            try:
                log.write(f"stopped: {detail}")
            except OSError:
                pass  # a full disk: the journal, not the log, is what recovery needs
            with interrupts.held():
                outcome = _abort(layout, journal, txid, exc)
            raise _explained(layout, journal, txid, exc, outcome) from exc


class Cancelled(KeyboardInterrupt):
    """Ctrl-C or a signal stopped the upgrade; `outcome` says what became of it: "aborted" (nothing
    changed), "reversed" (a swap was undone), "kept" (the verified candidate waits), "open" (the last
    step could not be finished or undone: `recover`)."""

    def __init__(self, outcome: str, txid: str, to_torch: Optional[str], signum: Optional[int]) -> None:
        super().__init__(outcome)
        self.outcome, self.txid, self.to_torch, self.signum = outcome, txid, to_torch, signum


_UNDONE = {"upgrade.error.rename_failed": "upgrade.error.rename_failed_undone",
           "upgrade.error.in_use_rename": "upgrade.error.in_use_rename_undone"}


def _explained(layout: Layout, journal: Journal, txid: str, exc: BaseException, outcome: str) -> BaseException:
    """The exception to show once `_abort` has done what it could: a full disk says what is in place and
    to run `recover` (or that nothing is left to do); a failed rename that was undone no longer sends the
    user to a `recover` with nothing to do; an interrupt says what became of the work."""
    if isinstance(exc, KeyboardInterrupt):
        try:
            tx = journal.find(txid)
        except (OSError, UpgradeError):
            tx = None
        to_torch = (tx.first("verified") or {}).get("to_torch") if tx is not None else None
        return Cancelled(outcome, txid, to_torch if isinstance(to_torch, str) else None,
                         getattr(exc, "signum", None))
    if is_disk_full(exc):
        return disk_full_error(layout, journal, txid, exc, outcome)
    if isinstance(exc, UpgradeError) and outcome in ("reversed", "aborted") and exc.key in _UNDONE:
        return UpgradeError(_UNDONE[exc.key], **exc.params)
    return exc


def _abort(layout: Layout, journal: Journal, txid: str, exc: BaseException) -> str:
    """Before swap-begin the original was never touched: dropping the stage is the whole undo. A verified
    candidate stopped by Ctrl-C or a signal is kept, as `recover` keeps it after a kill. Returns what was
    done: aborted | reversed | kept | open (left for `recover`) | closed (nothing was open)."""
    faults.kill_children()
    try:
        tx = journal.find(txid)
    except (OSError, UpgradeError):
        return "open"
    if tx is None or tx.closed:
        return "closed"
    try:
        if tx.has("swap-begin"):
            spec = SwapSpec.from_record(tx.first("swap-begin") or {}).check_within(layout.runtime, layout.state_dir)
            drive(spec, REVERSE, journal, txid, can_exchange(layout.runtime, spec.incoming))
        elif isinstance(exc, KeyboardInterrupt) and tx.has("verified") and tx.kind == "upgrade" \
                and os.path.isdir(layout.stage(txid)):
            verified = tx.first("verified") or {}
            journal.append(txid, "kept", reason="interrupted", stage=layout.stage(txid),
                           **{k: verified.get(k) for k in ("stamp", "target", "from_torch", "to_torch", "steps")})
            return "kept"
        outcome = "reversed" if tx.has("swap-begin") else "aborted"
        reason = exc.key if isinstance(exc, UpgradeError) else type(exc).__name__
        if outcome == "aborted":
            # Nothing was swapped: the stage goes first, so that were we stopped in between, the open
            # transaction's notice leads to a `recover` that finds nothing left to delete.
            remove_tree(layout.tx_dir(txid), layout.trash)
            journal.append(txid, outcome, reason=reason)
            return outcome
        # A reversed swap is journaled first: until "reversed" is on disk, `recover` finishes the swap
        # forward and needs the candidate (a full disk here leaves it for `recover`, whole).
        journal.append(txid, outcome, reason=reason)
    except BaseException:
        return "open"  # leave the transaction open: `recover` will finish the job and say so
    try:
        remove_tree(layout.tx_dir(txid), layout.trash)
    except BaseException:
        pass  # a closed transaction's stage is a stale stage: `recover` removes it
    return outcome


def _run(layout: Layout, runtime: Runtime, plan: Plan, gpus: GpuFacts, options: UpgradeOptions, events: Events,
         journal: Journal, txid: str, resolution: Resolution) -> UpgradeResult:
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
    # -- resolved before any work, from metadata only (preflight); journaled for the record --------
    journal.append(txid, "resolved", wheels=[f"{w.name}=={w.version}" for w in resolution.wheels])
    # -- download: each wheel once, resumable, checked against the hash its source published --------
    offline = all(w.url.startswith("file:") for w in resolution.wheels)
    events.step("local" if offline else "download", count=len(resolution.wheels),
                size=sum(w.size or 0 for w in resolution.wheels))
    downloader = Downloader(os.path.join(options.cache_dir, "wheels"), progress=events.download_progress,
                            on_retry=events.notice)
    local = [downloader.fetch(w) for w in resolution.wheels]
    journal.append(txid, "downloaded", files=[os.path.basename(p) for p in local])
    check_space(tx_dir, unpacked_size(local), "install")
    # -- what the old runtime already fails (its copy, before pip touches it; cached by its stamp) ---
    events.step("baseline")
    old = baseline(py, plan.imports, [d.name for d in _stage_distributions(runtime, stage)], layout.root,
                   key=stamp_digest(before), cache_dir=options.cache_dir)
    # -- install ----------------------------------------------------------------------------
    events.step("install")
    if local:
        expected = sum(w.unpacked or 0 for w in resolution.wheels) or unpacked_size(local)
        with InstallWatch(stage, expected, events.install_progress):
            output = install_wheels(py, local)
        if isinstance(journal, LoggedJournal) and journal.log:
            journal.log.block("pip install", output)
    fix_script_paths(stage, layout.runtime)
    fix_exe_launchers(stage, layout.runtime, os.path.relpath(runtime.python, runtime.root))
    journal.append(txid, "installed")
    # -- verify -----------------------------------------------------------------------------
    events.step("verify")
    dists = _stage_distributions(runtime, stage)
    def on_step(step):
        if isinstance(journal, LoggedJournal) and journal.log:
            journal.log.block(f"verify {step.name}: {step.status}", step.detail or "-")
        events.verify_step(step)

    result = verify_stage(py, gpus, plan.imports, [d.name for d in dists], matrix_dir=options.matrix_dir,
                          on_step=on_step, app_root=layout.root, before=old)
    if tree_stamp(layout.runtime) != before:
        raise UpgradeError("upgrade.error.original_changed", path=layout.runtime)
    from_torch = plan.current.get("torch")
    to_torch = next((d.version for d in dists if d.name == "torch"), None)
    if not result.ok:
        failure = result.failure
        journal.append(txid, "verify-failed", step=failure.name if failure else "?",
                       detail=failure.detail if failure else "", fix=failure.fix if failure else "")
        remove_tree(tx_dir, layout.trash)
        journal.append(txid, "aborted", reason="verify-failed")
        return UpgradeResult(txid, "verify-failed", resolution, stats, result, from_torch, to_torch, None,
                             log=log_path(layout, txid))
    journal.append(txid, "verified", steps=[[s.name, s.status] for s in result.steps], stamp=stamp_digest(before),
                   target=list(plan.target.requirements()), from_torch=from_torch, to_torch=to_torch)
    return _swap_or_keep(layout, journal, txid, events, resolution, stats, result, from_torch, to_torch,
                         stamp_digest(before), list(plan.target.requirements()))


def _swap_or_keep(layout: Layout, journal: Journal, txid: str, events: Events, resolution: Resolution,
                  stats: Optional[StageStats], result: VerifyResult, from_torch: Optional[str],
                  to_torch: Optional[str], stamp: str, target: List[str]) -> UpgradeResult:
    """Swap the verified stage in; if the runtime is in use (the WebUI runs from it), keep the verified
    candidate for the next `upgrade` instead of throwing the work away."""
    stage = layout.stage(txid)
    events.step("swap")
    users = processes_using(layout.runtime)
    if users:
        journal.append(txid, "kept", reason="in-use", processes=users[:5], stage=stage, stamp=stamp, target=target,
                       from_torch=from_torch, to_torch=to_torch, steps=[[s.name, s.status] for s in result.steps])
        return UpgradeResult(txid, "kept", resolution, stats, result, from_torch, to_torch, None,
                             log=log_path(layout, txid), in_use="; ".join(users[:5]))
    meta = {"txid": txid, "from_torch": from_torch, "to_torch": to_torch, "runtime": layout.runtime,
            "resolution": [f"{w.name}=={w.version}" for w in resolution.wheels]}
    link_text = pin_link(layout.runtime)
    if link_text is not None:
        meta["runtime_link"] = link_text  # rollback puts the user's own (relative) link text back
    atomic_write(layout.meta(txid), json.dumps(meta, indent=1).encode("utf-8"))
    # What the replaced runtime holds, so a rollback can verify the backup before trusting it.
    record_manifest(layout.runtime, layout.manifest(txid))
    flush_to_disk()
    spec = SwapSpec(layout.runtime, stage, identity(stage), layout.backup(txid),  # type: ignore[arg-type]
                    identity(layout.runtime))  # type: ignore[arg-type]
    # From here a signal waits: the renames run to the end and "committed" is said (issue 28: SIGTERM
    # between the two renames of the Windows path left no runtime; Ctrl-C after the commit exited 130
    # without saying that the upgrade was done).
    with interrupts.held():
        exchange = swap_in(spec, journal, txid)
        journal.append(txid, "committed", backup=layout.backup(txid))
        interrupts.hold_to_the_end()
    return UpgradeResult(txid, "committed", resolution, stats, result, from_torch, to_torch, layout.backup(txid),
                         "exchange" if exchange else "rename", log=log_path(layout, txid))


def find_kept(layout: Layout, journal: Journal, target: List[str]) -> Optional[Transaction]:
    """The newest kept candidate for this target, if the original runtime is unchanged since it was
    verified (same files, sizes, times, inodes) and its stage is still there."""
    kept = [t for t in journal.transactions() if t.last_event == "kept" and t.kind == "upgrade"]
    if not kept:
        return None
    now = stamp_digest(tree_stamp(layout.runtime))
    for tx in reversed(kept):
        record = tx.records[-1]
        if record.get("target") == target and record.get("stamp") == now and os.path.isdir(layout.stage(tx.txid)):
            return tx
    return None


def _reuse_kept(layout: Layout, journal: Journal, old: Transaction, txid: str, events: Events,
                resolution: Resolution) -> UpgradeResult:
    """Swap in a candidate verified earlier: its stage moves (one rename) into this transaction."""
    record = old.records[-1]
    os.makedirs(layout.tx_dir(txid), exist_ok=True)
    rename_durable(layout.stage(old.txid), layout.stage(txid))
    journal.append(old.txid, "aborted", reason="reused", by=txid)
    remove_tree(layout.tx_dir(old.txid), layout.trash)
    steps = tuple(VerifyStep(str(n), str(s), "verified in " + old.txid) for n, s in record.get("steps") or [])
    journal.append(txid, "verified", reused=old.txid, steps=record.get("steps") or [], stamp=record.get("stamp"),
                   target=record.get("target"), from_torch=record.get("from_torch"), to_torch=record.get("to_torch"))
    return _swap_or_keep(layout, journal, txid, events, resolution, None, VerifyResult(steps),
                         record.get("from_torch"), record.get("to_torch"), str(record.get("stamp")),
                         list(record.get("target") or []))


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
    return read_distributions(_stage_sites(runtime, stage))
