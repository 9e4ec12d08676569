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
    parser.add_argument("--wheelhouse", metavar="DIR", help="install only from wheels in this folder (offline)")
    parser.add_argument("--force", action="store_true", help="plan an upgrade even if the current build is fine")
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

    pending = interrupted_notice(args.root, ui)
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
    plan = make_plan(facts_from_report(report, matrix), matrix, options)
    driver = report.facts.gpu.driver.version if report.facts.gpu.driver else None
    status_text = plan_status_text(plan, ui, driver, runtime.python_version)
    resolution, disk, note = _preview(plan, runtime, ui) if plan.target is not None else (None, None, None)
    if not ui.json_mode:  # shown now: the question below is about it
        show_plan(plan, ui, status_text, resolution, disk, note)
    code = 0 if plan.status in (UPGRADE, UP_TO_DATE, NO_GPU) else 2
    if args.dry_run or plan.target is None:
        return result("upgrade", plan.status, code, None, dry_run=True, status=plan.status, summary=status_text,
                      plan=plan, resolution=resolution, disk_needed=disk, resolve_note=note, interrupted=pending)
    if not args.yes:
        if ui.json_mode or not sys.stdin.isatty():
            raise UsageError("upgrade.error.needs_yes")
        answer = input(ui.text("upgrade.confirm")).strip().lower()
        if answer not in ("y", "yes", "是"):
            return result("upgrade", "cancelled", 0, printer(ui.text("upgrade.cancelled")), dry_run=True,
                          status="cancelled", summary=ui.text("upgrade.cancelled"), plan=plan)
    events = Events() if ui.json_mode else ConsoleEvents(ui)
    layout = layout_for_runtime(runtime.root)
    upgrade_options = UpgradeOptions(stage_method=args.stage_method, cache_dir=str(cache_dir()))
    try:
        done = run_upgrade(layout, runtime, plan, report.facts.gpu, upgrade_options, events)
    finally:
        if isinstance(events, ConsoleEvents):
            events.finish()
    if done.status == "committed":
        text = ui.text("upgrade.done", old=done.from_torch or "-", new=done.to_torch or "-")
        code = 0
    else:
        failure = done.verify.failure
        text = ui.text("upgrade.verify_failed", step=failure.name if failure else "?",
                       detail=(failure.detail if failure else "")[:600])
        code = 2
    return result("upgrade", done.status, code, printer(text, "green" if code == 0 else "red"), dry_run=False,
                  status=done.status, summary=text, plan=plan, result=done)


def _preview(plan, runtime, ui: Ui):
    """Exact wheels and sizes from the original runtime's pip, read-only (-B, --dry-run); skipped
    when that pip is too old (the stage upgrades its own pip later) or the index cannot be reached."""
    from envdoctor.upgrade.download import Downloader
    from envdoctor.upgrade.errors import UpgradeError
    from envdoctor.upgrade.resolve import resolve
    from envdoctor.upgrade.sources import Source
    from envdoctor.upgrade.stage import estimate_copy_bytes
    from envdoctor.upgrade.transaction import SPACE_MARGIN

    _files, _total, copy_bytes = estimate_copy_bytes(runtime.root)
    try:
        resolution = resolve(runtime.python, plan.target.requirements(), plan.constraints,
                             Source(plan.index_url, plan.wheelhouse))
    except UpgradeError as exc:
        return None, copy_bytes + SPACE_MARGIN, ui.text("upgrade.note.resolve_skipped", reason=ui.text(exc.key,
                                                                                                       **exc.params))
    from dataclasses import replace

    from envdoctor.paths import cache_dir

    downloader = Downloader(os.path.join(str(cache_dir()), "wheels"))
    wheels = tuple(replace(w, size=downloader.size_of(w)) for w in resolution.wheels)
    resolution = replace(resolution, wheels=wheels)
    download = resolution.download_bytes or 0
    # stage copies + the download cache + the unpacked wheels (about 2.5x a compressed wheel)
    return resolution, copy_bytes + download + int(download * 2.5), None
