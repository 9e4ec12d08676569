"""`envdoctor matrix`: version, date, rows and verified share of the compatibility matrix, and its sources."""

from __future__ import annotations

import argparse
from typing import Any, Dict

from envdoctor.cli.ui import Ui
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "show the compatibility matrix: version, date, rows, verified share and sources"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("matrix", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("--matrix-dir", metavar="DIR",
                        help="read the matrix from this folder (default: ENVDOCTOR_MATRIX_DIR, else the built-in one)")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.matrix.loader import load_matrix
    from envdoctor.matrix.summary import summarize

    summary = summarize(load_matrix(args.matrix_dir))
    # The summary's own schema fields are the envelope head's to write.
    data = {k: v for k, v in summary.items() if k not in ("schema", "schema_version", "envdoctor_version")}
    return CommandResult("matrix", "summarized", 0, data=data, render=lambda view: _render(summary, view))


def _share(ui: Ui, verified: int, rows: int, percent: float) -> str:
    return ui.text("ui.matrix.share", verified=verified, rows=rows, percent=percent)


def _render(summary: Dict[str, Any], ui: Ui) -> None:
    console = ui.console()
    blocking = summary["blocking"]
    lines = [
        f"{ui.text('ui.matrix.title')}",
        f"  {ui.text('ui.matrix.version')}: {summary['matrix_version']}",
        f"  {ui.text('ui.matrix.date')}: {summary['date']}",
        f"  {ui.text('ui.matrix.where')}: {summary['where']}",
        f"  {ui.text('ui.matrix.rows')}: {summary['rows']}",
        f"  {ui.text('ui.matrix.verified')}: "
        f"{_share(ui, summary['verified'], summary['rows'], summary['verified_percent'])}",
        f"  {ui.text('ui.matrix.verified_blocking')}: "
        f"{_share(ui, blocking['verified'], blocking['rows'], blocking['verified_percent'])}",
        f"  {ui.text('ui.matrix.by_kind')}: " + ", ".join(f"{k} {n}" for k, n in summary["by_kind"].items()),
    ]
    for name, entry in summary["files"].items():
        lines.append(f"    {name}: {entry['verified']}/{entry['rows']}")
    lines.append(f"  {ui.text('ui.matrix.sources')}:")
    lines += [f"    {s['rows']:>3}  {s['url']}" for s in summary["sources"]]
    if summary["unverified_blocking"]:
        lines.append(f"  {ui.text('ui.matrix.unverified')}:")
        lines += [f"    - {ref}" for ref in summary["unverified_blocking"]]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
