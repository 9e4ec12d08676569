"""`envdoctor fix`: one guided repair (diagnose, choose A/B/C, carry out, prove, roll back on failure).

Exit codes: 0 fixed or nothing to do, 1 runs with warnings, 2 still fails (rolled back, report written),
3 could not check.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Optional

from envdoctor.cli.ui import Ui

HELP = "guided repair: diagnose, choose workarounds (A), an upgrade (B) or nothing (C), prove it, undo on failure"
SCHEMA = "envdoctor.fix"
SCHEMA_VERSION = 1


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("fix", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("--root", help="GPT-SoVITS folder holding runtime/ (default: current folder)")
    parser.add_argument("--choose", type=str.upper, choices=("A", "B", "C"),
                        help="A: workarounds (FP16 off, speaker verification on the CPU); B: upgrade torch; "
                        "C: leave it (default: ask, or the recommendation with --yes)")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask; take --choose or the recommendation")
    parser.add_argument("--wheelhouse", metavar="DIR|ZIP",
                        help="a folder or .zip of wheels (a fix pack): upgrade offline from it")
    parser.add_argument("--index-url", metavar="URL", help="wheel index or mirror for the upgrade")
    parser.add_argument("--log", metavar="FILE", help="the WebUI log to explain (default: the newest one found)")
    parser.add_argument("--no-live", action="store_true", help="judge from files only (no import torch)")
    parser.add_argument("--report-dir", metavar="DIR", help="where a failure's support report goes (default: ROOT)")
    parser.add_argument("--write-launchers", action="store_true",
                        help="write fix-env.bat and fix-env.ps1 beside go-webui.bat and stop")


def run(args: argparse.Namespace, ui: Ui) -> int:
    import os

    from envdoctor.fix.model import FixOptions

    root = os.path.abspath(args.root or os.getcwd())
    if args.write_launchers:
        return _write_launchers(root, ui)
    wheelhouse = None
    if args.wheelhouse:
        from envdoctor.fix.fixpack import wheel_folder

        wheelhouse = wheel_folder(args.wheelhouse)
    options = FixOptions(root=root, lang=ui.lang, choose=args.choose, yes=args.yes, wheelhouse=wheelhouse,
                         index_url=args.index_url, live=not args.no_live, log=args.log,
                         report_dir=args.report_dir)
    interactive = not ui.json_mode and sys.stdin.isatty() and not args.yes
    if ui.json_mode or not interactive:
        return _run_quiet(options, ui)
    return _run_interactive(options, ui)


# -- non-interactive (scripts, launchers, --json) ----------------------------------------------------

def _run_quiet(options: Any, ui: Ui) -> int:
    from envdoctor.fix.service import run_fix

    def decide(plan):
        # Without a terminal to ask, only --yes may change anything (--choose, else the recommendation).
        return (options.choose or plan.recommended) if options.yes else None

    console = None if ui.json_mode else ui.console(stderr=True)
    say = (lambda key, params: console.print(ui.text(key, **params), style="dim", markup=False)) if console else None
    outcome = run_fix(options, ui.text, decide, say=say)
    if outcome.status == "cancelled":
        outcome.status = "planned"  # nobody was asked: the plan is the answer
    if ui.json_mode:
        ui.print_json(envelope(outcome, ui))
    else:
        if outcome.plan is not None and outcome.chosen is None:
            _show_plan(outcome.plan, ui)
        _show_outcome(outcome, ui)
    return outcome.exit_code


def envelope(outcome: Any, ui: Ui) -> Dict[str, Any]:
    from envdoctor import __version__
    from envdoctor.model import to_jsonable

    plan = outcome.plan
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "envdoctor_version": __version__,
        "command": "fix", "lang": ui.lang, "exit_code": outcome.exit_code,
        "status": outcome.status, "summary": ui.text(f"fix.outcome.{outcome.status}"),
        "chosen": outcome.chosen, "recommended": plan.recommended if plan else None,
        "diagnosis": to_jsonable(plan.diagnosis) if plan else to_jsonable(outcome.final),
        "choices": to_jsonable(plan.choices) if plan else [],
        "steps": to_jsonable(outcome.steps), "proven": outcome.proven,
        "final": to_jsonable(outcome.final), "report": outcome.report_path,
    }


# -- interactive -------------------------------------------------------------------------------------

def _run_interactive(options: Any, ui: Ui) -> int:
    from envdoctor.fix.service import run_fix

    console = ui.console()

    def say(key: str, params: dict) -> None:
        console.print(ui.text(key, **params), style="dim", markup=False)

    def ask(plan) -> Optional[str]:
        _show_plan(plan, ui)
        return prompt_choice(plan, ui, options.choose)

    outcome = run_fix(options, ui.text, ask, say=say, attached=True)
    _show_outcome(outcome, ui)
    return outcome.exit_code


def prompt_choice(plan: Any, ui: Ui, preset: Optional[str]) -> Optional[str]:
    """Ask until the answer is A, B, C (Enter: the recommendation) or q; an unavailable choice is refused."""
    console = ui.console()
    if preset:
        answer = console.input(ui.text("fix.ask.confirm", choice=preset)).strip().lower()
        return preset if answer in ("", "y", "yes", "是", "好") else None
    while True:
        try:
            answer = console.input(ui.text("fix.ask.choose", recommended=plan.recommended)).strip().upper()
        except EOFError:
            return None
        if answer in ("", "\r"):
            answer = plan.recommended
        if answer in ("Q", "QUIT", "EXIT", "退出"):
            return None
        if answer in ("A", "B", "C"):
            choice = plan.choice(answer)
            if choice.available:
                return answer
            console.print(ui.text("fix.ask.unavailable", choice=answer, reason=choice.reason), markup=False)
            continue
        console.print(ui.text("fix.ask.invalid"), markup=False)


def _show_plan(plan: Any, ui: Ui) -> None:
    from rich.table import Table
    from rich.text import Text

    console = ui.console()
    diagnosis = plan.diagnosis
    console.print(Text(ui.text("fix.title"), style="bold"))
    console.print(Text(diagnosis.summary or ui.text(f"fix.verdict.{diagnosis.exit_code}")))
    for finding in diagnosis.blocking:
        console.print(Text("  ✗ " + finding.title, style="red"))
    for title in diagnosis.log_errors:
        console.print(Text("  " + ui.text("fix.log_error", title=title), style="yellow"))
    table = Table(show_lines=True)
    table.add_column(ui.text("fix.col.choice"))
    table.add_column(ui.text("fix.col.gives"))
    table.add_column(ui.text("fix.col.costs"))
    for choice in plan.choices:
        name = ui.text(f"fix.choice.{choice.key}")
        if choice.key == plan.recommended:
            name += "\n" + ui.text("fix.recommended")
        costs = "\n".join(choice.costs)
        if not choice.available or (choice.reason and choice.key != "C"):
            costs = (costs + "\n" if costs else "") + ui.text("fix.not_available" if not choice.available
                                                                else "fix.note", reason=choice.reason)
        table.add_row(Text(f"{choice.key}. {name}", style="bold" if choice.key == plan.recommended else ""),
                      Text("\n".join(choice.gives)), Text(costs))
    console.print(table)


def _show_outcome(outcome: Any, ui: Ui) -> None:
    from rich.text import Text

    console = ui.console()
    style = {"fixed": "green", "nothing-to-do": "green", "failed-rolled-back": "red", "failed": "red",
             "could-not-check": "yellow"}.get(outcome.status, "")
    console.print(Text(ui.text(f"fix.outcome.{outcome.status}"), style=style))
    if outcome.final is not None and outcome.final.error:
        console.print(Text(outcome.final.error))
    if outcome.status == "fixed":
        key = {True: "fix.proven.yes", None: "fix.proven.unknown", False: "fix.proven.no"}[outcome.proven]
        console.print(Text(ui.text(key)))
    if outcome.report_path:
        console.print(Text(ui.text("fix.report_written", path=outcome.report_path), style="bold"))


def _write_launchers(root: str, ui: Ui) -> int:
    from envdoctor.fix.launchers import write_launchers

    written = write_launchers(root)
    if ui.json_mode:
        from envdoctor import __version__

        ui.print_json({"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "envdoctor_version": __version__,
                       "command": "fix", "lang": ui.lang, "exit_code": 0, "status": "launchers-written",
                       "written": written})
    else:
        console = ui.console()
        for path in written:
            console.print(ui.text("fix.launcher_written", path=path), markup=False)
        if not written:
            console.print(ui.text("fix.launcher_kept"), markup=False)
    return 0
