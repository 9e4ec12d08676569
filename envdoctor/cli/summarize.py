"""`envdoctor summarize DIR`: counts over many support reports (GPU arch, driver branch, torch, findings)."""

from __future__ import annotations

import argparse

from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.fileio.safeio import folder_problem
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "summarize many envdoctor reports (report.json files or report zips under DIR)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("summarize", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("directory", metavar="DIR", help="folder searched (with subfolders) for reports")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.report.summarize import load_reports, render_summary, summarize

    problem = folder_problem(args.directory)
    if problem == "missing":
        raise UsageError("summarize.error.not_dir", path=args.directory)
    if problem is not None:  # a report file given instead of its folder, a FIFO, a loop: say which
        raise UsageError(f"safety.path.{problem}", path=args.directory, detail=problem, limit="")
    summary = summarize(*load_reports(args.directory))
    return CommandResult("summarize", "summarized", 0, data=summary,
                         render=lambda view: render_summary(summary, view.lang, view.console()))
