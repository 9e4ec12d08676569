"""`envdoctor rollback`: restore the runtime an upgrade replaced (O(1) renames); list and prune backups."""

from __future__ import annotations

import argparse
import os

from envdoctor.cli.ui import Ui

HELP = "restore the runtime replaced by the last upgrade; --list / --prune --keep N manage kept runtimes"


def _count(text: str) -> int:
    """--keep: 0 or more (a negative count would slice away every kept runtime)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("rollback", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("--root", help="GPT-SoVITS folder holding runtime/ (default: current folder)")
    parser.add_argument("--to", metavar="ID", help="restore this kept runtime (see --list) instead of the last backup")
    parser.add_argument("--list", action="store_true", help="list kept runtimes and stop")
    parser.add_argument("--prune", action="store_true", help="delete kept runtimes beyond the newest --keep N")
    parser.add_argument("--keep", type=_count, default=2, metavar="N", help="how many kept runtimes --prune keeps (2)")


def run(args: argparse.Namespace, ui: Ui) -> int:
    from envdoctor.cli.upgrade_view import envelope, interrupted_notice
    from envdoctor.upgrade.journal import Journal
    from envdoctor.upgrade.layout import Layout
    from envdoctor.upgrade.lock import TxLock
    from envdoctor.upgrade.rollback import rollback
    from envdoctor.upgrade.transaction import refuse_open
    from envdoctor.upgrade.trees import kept_trees, prune

    layout = Layout(os.path.abspath(args.root or os.getcwd()))
    if not os.path.isdir(layout.root):
        from envdoctor.errors import UsageError

        raise UsageError("safety.root_missing", path=layout.root)  # a typo must not create folders
    pending = interrupted_notice(layout.root, ui)
    if args.list:
        trees = kept_trees(layout)
        rows = [{"txid": t.txid, "kind": t.kind, "torch": t.torch, "path": t.path} for t in trees]
        if ui.json_mode:
            ui.print_json(envelope("rollback", ui, 0, kept=rows, interrupted=pending))
        else:
            console = ui.console()
            console.print(f"[bold]{ui.text('rollback.list.title')}[/bold]")
            for row in rows:
                console.print(ui.text("rollback.list.row", **{**row, "torch": row["torch"] or "?"}))
            if not rows:
                console.print(ui.text("rollback.list.empty"))
        return 0
    if args.prune:
        removed = []
        if os.path.isdir(layout.state_dir):  # nothing kept: nothing to lock, nothing to create
            with TxLock(layout):
                refuse_open(Journal(layout))
                removed = _prune_with_progress(layout, args.keep, ui, prune)
        left = len(kept_trees(layout))
        text = ui.text("rollback.pruned", count=len(removed), left=left)
        if ui.json_mode:
            ui.print_json(envelope("rollback", ui, 0, pruned=[t.txid for t in removed], left=left, summary=text))
        else:
            ui.console().print(text)
        return 0
    result = rollback(layout, args.to)
    text = ui.text("rollback.done", txid=result.restored.txid, torch=result.torch or "?",
                   seconds=f"{result.seconds:.2f}", parked=result.parked)
    if ui.json_mode:
        ui.print_json(envelope("rollback", ui, 0, txid=result.txid, restored=result.restored.txid, torch=result.torch,
                               parked=result.parked, seconds=result.seconds, summary=text))
    else:
        ui.console().print(f"[green]{text}[/green]")
    return 0


def _prune_with_progress(layout, keep, ui, prune):
    """Deleting a kept runtime (20,000+ files) takes a minute: show bytes, speed and time left."""
    if ui.json_mode:
        return prune(layout, keep)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    tasks = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=ui.console(stderr=True)) as bar:
        def tick(txid, done, total):
            if txid not in tasks:
                tasks[txid] = bar.add_task(ui.text("rollback.prune_progress", txid=txid), total=total or None)
            bar.update(tasks[txid], completed=done, total=total or None)

        return prune(layout, keep, tick)
