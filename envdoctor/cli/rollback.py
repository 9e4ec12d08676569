"""`envdoctor rollback`: restore the runtime an upgrade replaced (O(1) renames); list and prune backups."""

from __future__ import annotations

import argparse
import os

from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

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
    parser.add_argument("--keep", type=_count, default=None, metavar="N",
                        help="how many kept runtimes --prune keeps (2); after a rollback, older ones than the "
                             "newest N are deleted (1)")
    # rollback asks nothing, but scripts write `-y` as they do for upgrade: accepted, not refused.
    parser.add_argument("-y", "--yes", action="store_true",
                        help="do not ask (rollback never asks; accepted for scripts)")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.cli.upgrade_view import interrupted_notice, printer, result
    from envdoctor.upgrade.layout import Layout
    from envdoctor.upgrade.rollback import prune_kept, rollback
    from envdoctor.upgrade.trees import kept_trees

    layout = Layout(os.path.abspath(args.root or os.getcwd()))
    if not os.path.isdir(layout.root):
        raise UsageError("safety.root_missing", path=layout.root)  # a typo must not create folders
    pending = interrupted_notice(layout.root, ui)
    from envdoctor.cli.upgrade_view import kept_summary, mb
    from envdoctor.fileio.paths import cache_dir
    from envdoctor.upgrade import keep

    cache = str(cache_dir())
    if args.list:
        trees = kept_trees(layout)
        stored_line, stored = kept_summary(layout, ui, cache)
        sizes = {(i["kind"], i["txid"]): i for i in stored["items"]}
        rows = [{"txid": t.txid, "kind": t.kind, "torch": t.torch, "path": t.path,
                 "size": sizes.get((t.kind, t.txid), {}).get("size", 0),
                 "frees": sizes.get((t.kind, t.txid), {}).get("frees", 0)} for t in trees]
        others = [i for i in stored["items"] if i["kind"] not in ("backup", "rejected")]

        def render(view: Ui) -> None:
            console = view.console()
            console.print(f"[bold]{view.text('rollback.list.title')}[/bold]")
            for row in rows:
                console.print(view.text("rollback.list.row", **{**row, "torch": row["torch"] or "?"})
                              + " " + view.text("rollback.list.size", size=mb(row["size"]), frees=mb(row["frees"])))
            if not rows:
                console.print(view.text("rollback.list.empty"))
            for item in others:
                console.print(view.text(f"rollback.list.{item['kind']}", path=item["path"], txid=item["txid"] or "",
                                        size=mb(item["size"]), frees=mb(item["frees"])))
            console.print(stored_line)

        return result("rollback", "listed", 0, render, kept=rows, stored=stored, interrupted=pending)
    if args.prune:
        removed = _prune_with_progress(layout, 2 if args.keep is None else args.keep, ui, prune_kept)
        orphans = keep.prune_orphans(layout)  # candidates no upgrade can use any more
        keep.prune_partial_downloads(cache)
        left = len(kept_trees(layout))
        stored_line, stored = kept_summary(layout, ui, cache)
        text = ui.text("rollback.pruned", count=len(removed), left=left)
        if orphans:
            text += " " + ui.text("rollback.pruned_orphans", count=len(orphans))
        text += " " + stored_line
        return result("rollback", "pruned", 0, printer(text), pruned=[t.txid for t in removed], left=left,
                      summary=text, orphans=orphans, stored=stored)
    done = rollback(layout, args.to)
    # the rollback passed (the kept runtime was verified against its manifest): keep the newest N set aside
    keep.after_commit(layout, 1 if args.keep is None else args.keep, cache)
    stored_line, stored = kept_summary(layout, ui, cache)
    text = ui.text("rollback.done", txid=done.restored.txid, torch=done.torch or "?",
                   seconds=f"{done.seconds:.2f}", parked=done.parked) + " " + stored_line
    return result("rollback", "restored", 0, printer(text, "green"), txid=done.txid, restored=done.restored.txid,
                  torch=done.torch, parked=done.parked, seconds=done.seconds, summary=text, stored=stored)


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
