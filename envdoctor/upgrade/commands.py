"""`envdoctor upgrade` without a terminal: check the runtime, plan, resolve and size the plan (`prepare`),
then run the transaction (`execute`). The CLI parses, asks the user, calls these and renders.

Exit codes are decided here: 0 ready to go / upgraded / nothing to do, 2 the plan cannot fix it or the
candidate failed verification (nothing changed), 3 the plan could not be checked or the swap was kept back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from envdoctor.check import pipeline
from envdoctor.fileio.paths import cache_dir, host_platform
from envdoctor.matrix.loader import load_matrix
from envdoctor.matrix.views import Matrix
from envdoctor.model import CheckReport, Runtime
from envdoctor.probes.collect import CollectOptions
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.events import Events
from envdoctor.upgrade.layout import layout_for_runtime
from envdoctor.upgrade.mirrors import apply_sources
from envdoctor.upgrade.plan import (
    NO_GPU,
    UP_TO_DATE,
    UPGRADE,
    Note,
    Plan,
    PlanOptions,
    facts_from_report,
    make_plan,
    parse_torch_option,
)
from envdoctor.upgrade.preflight import Preflight, run_preflight
from envdoctor.upgrade.stage import estimate_copy_bytes, movable_problem
from envdoctor.upgrade.transaction import SPACE_MARGIN, UpgradeOptions, UpgradeResult, run_upgrade
from envdoctor.upgrade.wheelread import Http


@dataclass(frozen=True)
class UpgradeRequest:
    """What the user asked for (the command line's options, nothing about the terminal)."""

    root: Optional[str] = None
    gpus: Optional[List[int]] = None
    torch: Optional[str] = None
    variant: Optional[str] = None
    index_url: Optional[str] = None
    find_links: Tuple[str, ...] = ()
    wheelhouse: Optional[str] = None
    force: bool = False
    dry_run: bool = False
    stage_method: str = "auto"
    mirror: Optional[str] = None  # a name from matrices/mirrors.yaml


@dataclass
class PreparedUpgrade:
    """The runtime's check, the plan, and the preflight that resolved and sized it (before any change)."""

    report: CheckReport
    runtime: Runtime
    plan: Plan
    driver: Optional[str]
    check: Optional[Preflight] = None
    check_error: Optional[UpgradeError] = None  # the preflight could not run (index unreachable...)
    blockers: List[object] = field(default_factory=list)
    exit_code: int = 0

    @property
    def ready(self) -> bool:
        """Whether the transaction may start (after the user's yes)."""
        return self.plan.target is not None and self.exit_code == 0 and self.check is not None


def refuse_pending(pending: Optional[Mapping[str, object]], request: UpgradeRequest) -> None:
    """An interrupted or running transaction comes first: only a dry run may go on past it."""
    if not pending or request.dry_run:
        return
    if pending.get("running"):
        raise UpgradeError("upgrade.error.running", txid=pending["txid"], pid=pending.get("pid") or "?",
                           since=pending.get("since") or "?")
    raise UpgradeError("upgrade.error.interrupted", txid=pending["txid"], root=os.path.abspath(request.root or "."))


def prepare(request: UpgradeRequest, notify: Optional[Callable[[str, Dict[str, object]], None]] = None
            ) -> PreparedUpgrade:
    """`notify(key, params)`: what the user should hear while the plan is checked (a stalled page is
    retried: 'retrying')."""
    torch, variant = parse_torch_option(request.torch, request.variant)
    request = replace(request, torch=torch, variant=variant)
    # Files only (no live probe): running the original interpreter could write .pyc files into it,
    # and the original must stay byte-identical for rollback.
    report = pipeline.run_check(CollectOptions(root=request.root, live=False, scan=True), select=request.gpus)
    runtime = report.facts.runtime
    assert runtime is not None
    if runtime.platform != host_platform():
        raise UpgradeError("upgrade.error.foreign_runtime", platform=runtime.platform)
    matrix = load_matrix()
    options = PlanOptions(torch=request.torch, variant=request.variant, index_url=request.index_url,
                          wheelhouse=request.wheelhouse, force=request.force)
    plan = apply_sources(make_plan(facts_from_report(report, matrix), matrix, options), matrix, request.mirror,
                         request.index_url, request.wheelhouse, request.find_links)
    driver = report.facts.gpu.driver.version if report.facts.gpu.driver else None
    prepared = PreparedUpgrade(report, runtime, plan, driver)
    if plan.target is not None:
        try:
            prepared.check = _preflight(prepared, matrix, request, notify)
            other = _variant_the_source_has(prepared, matrix, request, options, notify)
            if other is not None:
                prepared.plan, prepared.check = other
        except UpgradeError as exc:
            prepared.check_error = exc
    prepared.blockers = list(prepared.check.blockers) if prepared.check is not None else list(plan.blockers)
    if plan.status not in (UPGRADE, UP_TO_DATE, NO_GPU) or prepared.blockers:
        prepared.exit_code = 2
    elif prepared.check_error is not None:
        prepared.exit_code = 3  # the plan could not be checked: nothing was started
    return prepared


def _preflight(prepared: PreparedUpgrade, matrix: Matrix, request: UpgradeRequest,
               notify: Optional[Callable[[str, Dict[str, object]], None]] = None, plan: Optional[Plan] = None
               ) -> Preflight:
    """Resolve from metadata only and apply every rule that could stop the plan (see preflight.py)."""
    runtime = prepared.runtime
    problem = movable_problem(runtime.root)  # found now, not at the swap after the whole install
    if problem is not None:
        raise problem
    _files, _total, copy_bytes = estimate_copy_bytes(runtime.root)  # refuses a link it cannot stage
    installed = {d.name: d.version for d in prepared.report.facts.distributions}
    plan = plan or prepared.plan
    check = run_preflight(plan, runtime.python, installed, matrix, prepared.driver, runtime.platform,
                          str(cache_dir()), copy_bytes, force=request.force, find_links=plan.find_links,
                          runtime_root=runtime.root, http=Http(on_retry=notify))
    check.disk_needed += SPACE_MARGIN
    return check


def _variant_the_source_has(prepared: PreparedUpgrade, matrix: Matrix, request: UpgradeRequest,
                            options: PlanOptions, notify) -> Optional[Tuple[Plan, Preflight]]:
    """`--torch 2.11.0` from a source that holds only its cu130 build: the plan's variant (cu128) is not
    there, so take the build the source has (if the matrix knows it for this release, in the plan's
    rules: native kernels, the driver) instead of failing. Not when --variant named the build."""
    check = prepared.check
    if check is None or request.variant or not check.missing:
        return None
    torch_missing = next((m for m in check.missing if m.requirement.startswith("torch==") and m.builds), None)
    if torch_missing is None:
        return None
    facts = facts_from_report(prepared.report, matrix)
    for build in torch_missing.builds:
        plan = make_plan(facts, matrix, replace(options, variant=build))
        if plan.target is None or plan.target.variant != build or plan.blockers:
            continue
        plan = apply_sources(plan, matrix, request.mirror, request.index_url, request.wheelhouse, request.find_links)
        other = _preflight(prepared, matrix, request, notify, plan)
        if other.ok and plan.target is not None:
            note = Note("variant_from_source", {"variant": build, "asked": prepared.plan.target.variant
                                                if prepared.plan.target else "?", "torch": plan.target.torch})
            return replace(plan, notes=(note, *plan.notes)), other
    return None


def execute(prepared: PreparedUpgrade, request: UpgradeRequest, events: Events) -> UpgradeResult:
    """Stage, install, verify and swap (the user said yes); the preflight's resolution is what installs."""
    assert prepared.check is not None
    options = UpgradeOptions(stage_method=request.stage_method, cache_dir=str(cache_dir()),
                             find_links=prepared.plan.find_links)
    return run_upgrade(layout_for_runtime(prepared.runtime.root), prepared.runtime, prepared.plan,
                       prepared.report.facts.gpu, options, events, resolution=prepared.check.resolution)


@dataclass(frozen=True)
class Finished:
    """A transaction that ran: its result, the command's exit code, and what stays on disk."""

    result: UpgradeResult
    exit_code: int
    root: str  # the runtime's folder (its kept copies are listed from there)
    cache: str  # the download cache
    pruned: Dict[str, List[str]] = field(default_factory=dict)  # after a commit: what housekeeping removed

    @property
    def lists_kept_disk(self) -> bool:
        """Whether the runtimes and downloads left on disk are worth listing (something changed or waits)."""
        return self.result.status in ("committed", "kept")


def finish(prepared: PreparedUpgrade, request: UpgradeRequest, events: Events, keep: int) -> Finished:
    """Run the transaction, then tidy up after a commit (it passed its verification): older runtimes set
    aside beyond `keep`, orphaned candidates and partial downloads go."""
    done = execute(prepared, request, events)
    pruned = housekeeping(prepared, keep) if done.status == "committed" else {}
    return Finished(done, exit_code_of(done), prepared.runtime.root, str(cache_dir()), pruned)


def housekeeping(prepared: PreparedUpgrade, keep: int) -> Dict[str, List[str]]:
    """After a committed upgrade: at most `keep` runtimes set aside, no orphaned candidates, no partial
    downloads of finished runs (see upgrade/keep.py)."""
    from envdoctor.upgrade.keep import after_commit

    return after_commit(layout_for_runtime(prepared.runtime.root), keep, str(cache_dir()))


def exit_code_of(done: UpgradeResult) -> int:
    if done.status == "kept":
        return 3  # the runtime was in use: the new build waits, nothing changed
    return 0 if done.status == "committed" else 2
