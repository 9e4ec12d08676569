"""`envdoctor upgrade` without a terminal: check the runtime, plan, resolve and size the plan (`prepare`),
then run the transaction (`execute`). The CLI parses, asks the user, calls these and renders.

Exit codes are decided here: 0 ready to go / upgraded / nothing to do, 2 the plan cannot fix it or the
candidate failed verification (nothing changed), 3 the plan could not be checked or the swap was kept back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple

from envdoctor import pipeline
from envdoctor.matrix.loader import load_matrix
from envdoctor.matrix.model import Matrix
from envdoctor.model import CheckReport, Runtime
from envdoctor.paths import cache_dir, host_platform
from envdoctor.probes.collect import CollectOptions
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.events import Events
from envdoctor.upgrade.layout import layout_for_runtime
from envdoctor.upgrade.mirrors import apply_sources
from envdoctor.upgrade.plan import NO_GPU, UP_TO_DATE, UPGRADE, Plan, PlanOptions, facts_from_report, make_plan
from envdoctor.upgrade.preflight import Preflight, run_preflight
from envdoctor.upgrade.stage import estimate_copy_bytes, movable_problem
from envdoctor.upgrade.transaction import SPACE_MARGIN, UpgradeOptions, UpgradeResult, run_upgrade


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


def prepare(request: UpgradeRequest) -> PreparedUpgrade:
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
            prepared.check = _preflight(prepared, matrix, request)
        except UpgradeError as exc:
            prepared.check_error = exc
    prepared.blockers = list(prepared.check.blockers) if prepared.check is not None else list(plan.blockers)
    if plan.status not in (UPGRADE, UP_TO_DATE, NO_GPU) or prepared.blockers:
        prepared.exit_code = 2
    elif prepared.check_error is not None:
        prepared.exit_code = 3  # the plan could not be checked: nothing was started
    return prepared


def _preflight(prepared: PreparedUpgrade, matrix: Matrix, request: UpgradeRequest) -> Preflight:
    """Resolve from metadata only and apply every rule that could stop the plan (see preflight.py)."""
    runtime = prepared.runtime
    problem = movable_problem(runtime.root)  # found now, not at the swap after the whole install
    if problem is not None:
        raise problem
    _files, _total, copy_bytes = estimate_copy_bytes(runtime.root)  # refuses a link it cannot stage
    installed = {d.name: d.version for d in prepared.report.facts.distributions}
    check = run_preflight(prepared.plan, runtime.python, installed, matrix, prepared.driver, runtime.platform,
                          str(cache_dir()), copy_bytes, force=request.force, find_links=prepared.plan.find_links,
                          runtime_root=runtime.root)
    check.disk_needed += SPACE_MARGIN
    return check


def execute(prepared: PreparedUpgrade, request: UpgradeRequest, events: Events) -> UpgradeResult:
    """Stage, install, verify and swap (the user said yes); the preflight's resolution is what installs."""
    assert prepared.check is not None
    options = UpgradeOptions(stage_method=request.stage_method, cache_dir=str(cache_dir()),
                             find_links=prepared.plan.find_links)
    return run_upgrade(layout_for_runtime(prepared.runtime.root), prepared.runtime, prepared.plan,
                       prepared.report.facts.gpu, options, events, resolution=prepared.check.resolution)


def exit_code_of(done: UpgradeResult) -> int:
    if done.status == "kept":
        return 3  # the runtime was in use: the new build waits, nothing changed
    return 0 if done.status == "committed" else 2
