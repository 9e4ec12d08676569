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
    from envdoctor.cli import upgrade_view as view
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
    pending = view.interrupted_notice(args.root, ui)
    commands.refuse_pending(pending, request)
    prepared = commands.prepare(request, view.retry_notifier(ui))
    if not ui.json_mode:  # shown now: the question below is about it
        view.show_prepared(prepared, ui)
    if args.dry_run or not prepared.ready:
        return view.plan_result(prepared, ui, args.dry_run, pending)
    if not args.yes and not _confirmed(ui):
        return view.cancelled_result(prepared.plan, ui)
    events = view.events_for(ui)
    try:
        finished = commands.finish(prepared, request, events, args.keep)
    finally:
        view.close_events(events)
    return view.finished_result(prepared.plan, finished, ui)


def _confirmed(ui: Ui) -> bool:
    """The user's yes at the prompt; --json or no terminal cannot ask, so it needs --yes."""
    if ui.json_mode or not sys.stdin.isatty():
        raise UsageError("upgrade.error.needs_yes")
    return input(ui.text("upgrade.confirm")).strip().lower() in ("y", "yes", "是")
