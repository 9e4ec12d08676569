"""`envdoctor recover`: finish (default) or undo (--reverse) an interrupted upgrade or rollback."""

from __future__ import annotations

import argparse
import os

from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "finish or undo an upgrade/rollback that was interrupted (crash, power loss, killed)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("recover", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("--root", help="GPT-SoVITS folder holding runtime/ (default: current folder)")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="do not ask (recover never asks; accepted for scripts)")
    parser.add_argument("--reverse", action="store_true",
                        help="put back the runtime from before the interrupted step instead of finishing it")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.cli.upgrade_view import result
    from envdoctor.upgrade.layout import Layout
    from envdoctor.upgrade.recover import recover

    layout = Layout(os.path.abspath(args.root or os.getcwd()))
    if not os.path.isdir(layout.root):
        raise UsageError("safety.root_missing", path=layout.root)  # a typo must not create folders
    done = recover(layout, reverse=args.reverse)
    lines = [ui.text("recover.done", txid=r.txid, kind=r.kind, outcome=ui.text(f"recover.outcome.{r.outcome}"))
             for r in done] or [ui.text("recover.none")]
    if os.path.isdir(layout.state_dir):  # what stays on disk (orphaned candidates among it), and how to free it
        from envdoctor.cli.upgrade_view import kept_summary
        from envdoctor.fileio.paths import cache_dir
        from envdoctor.upgrade.keep import ORPHAN

        line, stored = kept_summary(layout, ui, str(cache_dir()))
        orphaned = [i for i in stored["items"] if i["kind"] == ORPHAN]
        if orphaned:
            lines.append(ui.text("recover.orphans", count=len(orphaned), root=layout.root))
        lines.append(line)

    def render(view: Ui) -> None:
        console = view.console()
        for line in lines:
            console.print(line)

    return result("recover", "recovered" if done else "nothing", 0, render, recovered=list(done),
                  summary=" ".join(lines))
