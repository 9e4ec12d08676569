"""`envdoctor upgrade`: plan, then (after a yes) stage, install, verify and swap a new torch build.

Exit codes: 0 upgraded (or nothing to do / plan shown), 2 the plan cannot fix it (driver too old, no
build known) or the candidate failed verification (nothing changed), 3 could not run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "upgrade torch/torchaudio in runtime/ to a build with native kernels for this GPU (staged, verified, reversible)"


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


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
    parser.add_argument("--keep", type=_count, default=1, metavar="N",
                        help="after a successful upgrade, keep the newest N runtimes set aside for rollback and "
                             "delete older ones (default 1)")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask before changing the runtime")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    try:
        return _run(args, ui)
    except KeyboardInterrupt as exc:
        # Ctrl-C or a signal (see upgrade/interrupts.py): say what became of the work, then end as an
        # interrupted program does (exit 130, no envelope).
        say_cancelled(exc, ui, args.root)
        raise


def say_cancelled(exc: KeyboardInterrupt, ui: Ui, root: Optional[str]) -> None:
    import os

    outcome = getattr(exc, "outcome", "aborted")
    if outcome == "kept":
        text = ui.text("upgrade.cancelled_kept", new=getattr(exc, "to_torch", None) or "-")
    elif outcome == "open":
        text = ui.text("upgrade.cancelled_open", root=os.path.abspath(root or "."))
    else:
        text = ui.text("upgrade.cancelled")
    print(text, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.cli.upgrade_view import (
        ConsoleEvents,
        Events,
        blocker_texts,
        interrupted_notice,
        plan_status_text,
        printer,
        result,
        show_plan,
    )
    from envdoctor.model import to_jsonable
    from envdoctor.upgrade import commands

    if args.list_mirrors:
        from envdoctor.cli.mirrors_view import list_mirrors

        return list_mirrors(ui)
    from envdoctor.upgrade.mirrors import check_mirror_args

    check_mirror_args(args.mirror, args.wheelhouse)  # bad input: say so before any work
    request = commands.UpgradeRequest(
        root=args.root, gpus=args.gpu, torch=args.torch, variant=args.variant, index_url=args.index_url,
        find_links=tuple(args.find_links), wheelhouse=args.wheelhouse, force=args.force, dry_run=args.dry_run,
        stage_method=args.stage_method, mirror=args.mirror)
    pending = interrupted_notice(args.root, ui)
    commands.refuse_pending(pending, request)
    def notify(key, params):  # said while the plan is checked (a stalled page: retrying)
        ui.console(stderr=True).print(f"[yellow]{ui.text(key, **params)}[/yellow]")

    prepared = commands.prepare(request, notify)
    plan, check, blockers, code = prepared.plan, prepared.check, prepared.blockers, prepared.exit_code
    status_text = plan_status_text(plan, ui, prepared.driver, prepared.runtime.python_version)
    error = prepared.check_error
    check_error = ui.text(error.key, **error.params) if error is not None else None
    if plan.target is not None and blockers:
        status_text = ui.text("upgrade.status.blocked")
    if not ui.json_mode:  # shown now: the question below is about it
        show_plan(plan, ui, status_text, check, check_error)
    if args.dry_run or not prepared.ready:
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
    try:
        done = commands.execute(prepared, request, events)
    finally:
        if isinstance(events, ConsoleEvents):
            events.finish()
    code = commands.exit_code_of(done)
    stored = None
    if done.status == "committed":  # passed its verification: older runtimes set aside and orphans go
        stored = commands.housekeeping(prepared, args.keep)
    if done.status == "kept":
        text = ui.text("upgrade.kept", processes=done.in_use, new=done.to_torch or "-")
    elif done.status == "committed":
        text = ui.text("upgrade.done", old=done.from_torch or "-", new=done.to_torch or "-")
        if done.reused:
            text += " " + ui.text("upgrade.reused", txid=done.reused)
        smoke = next((s for s in done.verify.steps if s.name == "smoke"), None)
        if smoke is not None and smoke.status == "skipped":
            text += " " + ui.text("upgrade.done_untested", reason=smoke.detail)
    else:
        failure = done.verify.failure
        text = ui.text("upgrade.verify_failed", step=failure.name if failure else "?",
                       detail=(failure.detail if failure else "")[:600])
        if failure is not None and failure.fix:
            text += " " + ui.text(failure.fix, **dict(failure.fix_params))
    # what the old runtime failed as well is not the upgrade's doing: said, never the reason to reject
    before = [s for s in done.verify.steps if s.before]
    if before:
        text += " " + ui.text("upgrade.broken_before", items="; ".join(f"{s.name}: {s.before}" for s in before)[:800])
    kept_data = None
    if done.status in ("committed", "kept"):  # what stays on disk, and how to free it
        from envdoctor.cli.upgrade_view import kept_summary
        from envdoctor.fileio.paths import cache_dir
        from envdoctor.upgrade.layout import layout_for_runtime

        kept_line, kept_data = kept_summary(layout_for_runtime(prepared.runtime.root), ui, str(cache_dir()))
        if stored:
            kept_data["pruned"] = stored
        text += " " + kept_line
    return result("upgrade", done.status, code, printer(text, "green" if code == 0 else "red"), dry_run=False,
                  status=done.status, summary=text, plan=plan, result=done, kept=kept_data)
