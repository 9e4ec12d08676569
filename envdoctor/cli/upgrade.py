"""`envdoctor upgrade`: plan, then (after a yes) stage, install, verify and swap a new torch build.

Exit codes: 0 upgraded (or nothing to do / plan shown), 2 the plan cannot fix it (driver too old, no
build known) or the candidate failed verification (nothing changed), 3 could not run.
"""

from __future__ import annotations

import argparse
import os
import sys

from envdoctor.cli.ui import Ui
from envdoctor.result import CommandResult

HELP = "upgrade torch/torchaudio in runtime/ to a build with native kernels for this GPU (staged, verified, reversible)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("upgrade", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("--root", help="GPT-SoVITS folder holding runtime/ (default: current folder)")
    parser.add_argument("--gpu", type=int, action="append", metavar="N", help="only consider GPU N (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan (versions, sizes, source) and stop")
    parser.add_argument("--torch", metavar="VERSION", help="target torch version (overrides the matrix's choice)")
    parser.add_argument("--variant", metavar="NAME", help="wheel variant, e.g. cu128 (overrides the matrix's choice)")
    parser.add_argument("--index-url", metavar="URL", help="wheel index to use instead of PyTorch's (https mirror)")
    parser.add_argument("--find-links", metavar="URL|DIR", action="append", default=[],
                        help="also take wheels from this flat page or folder (mirrors laid out as a directory; "
                             "repeatable)")
    parser.add_argument("--mirror", metavar="NAME",
                        help="take wheels from this known mirror (see --list-mirrors), read as its layout needs")
    parser.add_argument("--list-mirrors", action="store_true", help="list the known mirrors and stop")
    parser.add_argument("--wheelhouse", metavar="DIR", help="install only from wheels in this folder (offline)")
    parser.add_argument("--force", action="store_true",
                        help="plan an upgrade even if the current build is fine, or for a driver that cannot "
                             "start the build")
    parser.add_argument("--stage-method", choices=("auto", "reflink", "hardlink", "copy"), default="auto",
                        help="how the staged copy shares files with the runtime (default: cheapest safe one)")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask before changing the runtime")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.cli.upgrade_view import (
        ConsoleEvents,
        Events,
        interrupted_notice,
        plan_status_text,
        printer,
        result,
        show_plan,
    )
    from envdoctor.errors import UsageError
    from envdoctor.matrix.loader import load_matrix
    from envdoctor.paths import cache_dir, host_platform
    from envdoctor.pipeline import run_check
    from envdoctor.probes.collect import CollectOptions
    from envdoctor.upgrade.errors import UpgradeError
    from envdoctor.upgrade.layout import layout_for_runtime
    from envdoctor.upgrade.plan import NO_GPU, UP_TO_DATE, UPGRADE, PlanOptions, facts_from_report, make_plan
    from envdoctor.upgrade.transaction import UpgradeOptions, run_upgrade

    if args.list_mirrors:
        from envdoctor.cli.mirrors_view import list_mirrors

        return list_mirrors(ui)
    from envdoctor.upgrade.mirrors import apply_sources, check_mirror_args

    check_mirror_args(args.mirror, args.wheelhouse)  # bad input: say so before any work
    pending = interrupted_notice(args.root, ui)
    if pending and pending.get("running") and not args.dry_run:
        raise UpgradeError("upgrade.error.running", txid=pending["txid"], pid=pending.get("pid") or "?",
                           since=pending.get("since") or "?")
    if pending and not args.dry_run:
        raise UpgradeError("upgrade.error.interrupted", txid=pending["txid"], root=os.path.abspath(args.root or "."))
    # Files only (no live probe): running the original interpreter could write .pyc files into it,
    # and the original must stay byte-identical for rollback.
    report = run_check(CollectOptions(root=args.root, live=False, scan=True), select=args.gpu)
    runtime = report.facts.runtime
    assert runtime is not None
    if runtime.platform != host_platform():
        raise UpgradeError("upgrade.error.foreign_runtime", platform=runtime.platform)
    matrix = load_matrix()
    options = PlanOptions(torch=args.torch, variant=args.variant, index_url=args.index_url,
                          wheelhouse=args.wheelhouse, force=args.force)
    plan = apply_sources(make_plan(facts_from_report(report, matrix), matrix, options), matrix, args.mirror,
                         args.index_url, args.wheelhouse, args.find_links)
    driver = report.facts.gpu.driver.version if report.facts.gpu.driver else None
    status_text = plan_status_text(plan, ui, driver, runtime.python_version)
    check = None
    check_error = None
    if plan.target is not None:
        try:
            check = _preflight(plan, report, matrix, driver, runtime, args)
        except UpgradeError as exc:
            check_error = ui.text(exc.key, **exc.params)
    blockers = list(check.blockers) if check is not None else list(plan.blockers)
    if plan.target is not None and blockers:
        status_text = ui.text("upgrade.status.blocked")
    if not ui.json_mode:  # shown now: the question below is about it
        show_plan(plan, ui, status_text, check, check_error)
    if plan.status not in (UPGRADE, UP_TO_DATE, NO_GPU) or blockers:
        code = 2
    elif check_error is not None:
        code = 3  # the plan could not be checked (index unreachable...): nothing was started
    else:
        code = 0
    if args.dry_run or plan.target is None or code != 0:
        from envdoctor.cli.upgrade_view import blocker_texts
        from envdoctor.model import to_jsonable

        summary = " ".join([status_text, *blocker_texts(blockers, check, ui)] + ([check_error] if check_error
                                                                                else []))
        resolution = None
        if check is not None:  # download_bytes: what crosses the network (0 for local files)
            resolution = {**to_jsonable(check.resolution), "download_bytes": check.download_bytes}
        # The plan was shown above; a blocked one ends with the line that says nothing was changed.
        final = printer(ui.text("upgrade.blocked_final"), "red") if code == 2 and plan.target is not None else None
        return result("upgrade", plan.status, code, final, dry_run=args.dry_run, status=plan.status,
                      summary=summary, plan=plan, blockers=blockers, resolution=resolution,
                      missing=check.missing if check else [],
                      download_bytes=check.download_bytes if check else None,
                      local_bytes=check.local_bytes if check else None,
                      disk_needed=check.disk_needed if check else None,
                      metadata_bytes=check.metadata_bytes if check else None,
                      check_notes=check.notes if check else [],
                      resolve_note=check_error, interrupted=pending)
    if not args.yes:
        if ui.json_mode or not sys.stdin.isatty():
            raise UsageError("upgrade.error.needs_yes")
        answer = input(ui.text("upgrade.confirm")).strip().lower()
        if answer not in ("y", "yes", "是"):
            return result("upgrade", "cancelled", 0, printer(ui.text("upgrade.cancelled")), dry_run=True,
                          status="cancelled", summary=ui.text("upgrade.cancelled"), plan=plan)
    events = Events() if ui.json_mode else ConsoleEvents(ui)
    layout = layout_for_runtime(runtime.root)
    upgrade_options = UpgradeOptions(stage_method=args.stage_method, cache_dir=str(cache_dir()),
                                     find_links=plan.find_links)
    assert check is not None
    try:
        done = run_upgrade(layout, runtime, plan, report.facts.gpu, upgrade_options, events,
                           resolution=check.resolution)
    finally:
        if isinstance(events, ConsoleEvents):
            events.finish()
    if done.status == "kept":
        text = ui.text("upgrade.kept", processes=done.in_use, new=done.to_torch or "-")
        code = 3
    elif done.status == "committed":
        text = ui.text("upgrade.done", old=done.from_torch or "-", new=done.to_torch or "-")
        if done.reused:
            text += " " + ui.text("upgrade.reused", txid=done.reused)
        smoke = next((s for s in done.verify.steps if s.name == "smoke"), None)
        if smoke is not None and smoke.status == "skipped":
            text += " " + ui.text("upgrade.done_untested", reason=smoke.detail)
        code = 0
    else:
        failure = done.verify.failure
        text = ui.text("upgrade.verify_failed", step=failure.name if failure else "?",
                       detail=(failure.detail if failure else "")[:600])
        if failure is not None and failure.fix:
            text += " " + ui.text(failure.fix)
        code = 2
    return result("upgrade", done.status, code, printer(text, "green" if code == 0 else "red"), dry_run=False,
                  status=done.status, summary=text, plan=plan, result=done)


def _preflight(plan, report, matrix, driver, runtime, args):
    """Resolve from metadata only and apply every rule that could stop the plan (see preflight.py)."""
    from envdoctor.paths import cache_dir
    from envdoctor.upgrade.preflight import run_preflight
    from envdoctor.upgrade.stage import estimate_copy_bytes
    from envdoctor.upgrade.transaction import SPACE_MARGIN

    _files, _total, copy_bytes = estimate_copy_bytes(runtime.root)
    installed = {d.name: d.version for d in report.facts.distributions}
    check = run_preflight(plan, runtime.python, installed, matrix, driver, runtime.platform, str(cache_dir()),
                          copy_bytes, force=args.force, find_links=plan.find_links, runtime_root=runtime.root)
    check.disk_needed += SPACE_MARGIN
    return check
