"""`envdoctor fix`: one guided repair (diagnose, choose A/B/C, carry out, prove, roll back on failure).

Exit codes: 0 fixed or nothing to do, 1 runs with warnings, 2 still fails (rolled back, report written),
3 could not check.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Optional

from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "guided repair: diagnose, choose workarounds (A), an upgrade (B) or nothing (C), prove it, undo on failure"


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
    parser.add_argument("--mirror", metavar="NAME",
                        help="a known mirror for the upgrade's wheels (envdoctor upgrade --list-mirrors); "
                             "default: ask before B when there is a terminal")
    parser.add_argument("--log", metavar="FILE", help="the WebUI log to explain (default: the newest one found)")
    parser.add_argument("--no-live", action="store_true", help="judge from files only (no import torch)")
    parser.add_argument("--report-dir", metavar="DIR", help="where a failure's support report goes (default: ROOT)")
    parser.add_argument("--write-launchers", action="store_true",
                        help="write fix-env.bat and fix-env.ps1 beside go-webui.bat and stop")
    parser.add_argument("--demo", nargs="?", const="rtx5060ti-v2pro", metavar="SCENARIO",
                        help="walk through fix on a built-in example bundle in a temporary folder, on a "
                             "simulated GPU (nothing of yours is read or changed); scenarios as for check --demo")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.fix.decisions import FixOptions

    if args.demo:
        return _run_demo(args, ui)
    root = os.path.abspath(args.root or os.getcwd())
    if args.write_launchers:
        return _write_launchers(root, ui)
    from envdoctor.upgrade.mirrors import check_mirror_args

    check_mirror_args(args.mirror, args.wheelhouse)  # an unknown name is refused before anything runs
    wheelhouse = None
    if args.wheelhouse:
        from envdoctor.fix import fixpack

        wheelhouse = os.path.abspath(args.wheelhouse)
        if not os.path.isdir(wheelhouse):
            fixpack.inspect_pack(wheelhouse)  # a pack that cannot be unpacked is refused now; unpacked once B is chosen
    options = FixOptions(root=root, lang=ui.lang, choose=args.choose, yes=args.yes, wheelhouse=wheelhouse,
                         index_url=args.index_url, mirror=args.mirror, live=not args.no_live, log=args.log,
                         report_dir=args.report_dir)
    return _run(options, ui, args.yes)


def _run(options: Any, ui: Ui, yes: bool, children: Any = None, demo: Optional[str] = None) -> CommandResult:
    interactive = not ui.json_mode and sys.stdin.isatty() and not yes
    if ui.json_mode or not interactive:
        return _run_quiet(options, ui, children, demo)
    return _run_interactive(options, ui, children, demo)


def _run_demo(args: argparse.Namespace, ui: Ui) -> CommandResult:
    """The whole walk on the demo bundle: envdoctor's own children see the scenario's simulated GPU and
    driver; A really writes its workarounds (into the temporary copy); the folder is removed afterwards."""
    from envdoctor.demo import demo_bundle, demo_environ, scenario_named
    from envdoctor.fix.children import Children
    from envdoctor.fix.decisions import FixOptions

    given = [flag for flag, value in (("--root", args.root), ("--wheelhouse", args.wheelhouse),
                                      ("--index-url", args.index_url), ("--mirror", args.mirror),
                                      ("--log", args.log), ("--report-dir", args.report_dir),
                                      ("--write-launchers", args.write_launchers)) if value]
    if given:
        raise UsageError("fix.error.demo_alone", flags=" ".join(given))
    scenario = scenario_named(args.demo)
    with demo_bundle(args.demo, app=True) as (root, _gpus):
        environ = dict(os.environ, **demo_environ(scenario), ENVDOCTOR_NO_REPLAY="1")
        for key in ("is_half", "GPT_SOVITS_SV_MODE", "ENVDOCTOR_MATRIX_DIR"):
            environ.pop(key, None)  # the demo shows the built-in facts, not this shell's settings
        options = FixOptions(root=root, lang=ui.lang, choose=args.choose, yes=args.yes, live=False,
                             report_dir=root)
        return _run(options, ui, args.yes, Children(ui.lang, environ=environ), demo=args.demo)


# -- non-interactive (scripts, launchers, --json) ----------------------------------------------------

def _forget_demo_files(outcome: Any, demo: Optional[str]) -> None:
    if demo:
        outcome.report_path = None  # it was written inside the demo folder, which is gone


def _run_quiet(options: Any, ui: Ui, children: Any = None, demo: Optional[str] = None) -> CommandResult:
    from envdoctor.fix.walk import run_fix

    def decide(plan):
        # Without a terminal to ask, only --yes may change anything (--choose, else the recommendation).
        return (options.choose or plan.recommended) if options.yes else None

    console = None if ui.json_mode else ui.console(stderr=True)
    say = (lambda key, params: console.print(ui.text(key, **params), style="dim", markup=False)) if console else None
    outcome = run_fix(options, ui.text, decide, children=children, say=say)
    if outcome.status == "cancelled":
        outcome.status = "planned"  # nobody was asked: the plan is the answer
    _forget_demo_files(outcome, demo)

    def render(view: Ui) -> None:
        if outcome.plan is not None and outcome.chosen is None:
            _show_plan(outcome.plan, view)
        _show_outcome(outcome, view, demo)

    return CommandResult("fix", outcome.status, outcome.exit_code, data=lambda lang: data(outcome, ui, demo),
                         render=render)


def data(outcome: Any, ui: Ui, demo: Optional[str] = None) -> Dict[str, Any]:
    """The fix envelope's data (the head is envdoctor.envelope's)."""
    from envdoctor.model import to_jsonable

    plan = outcome.plan
    return {
        "demo": demo,
        "status": outcome.status, "summary": ui.text(f"fix.outcome.{outcome.status}"),
        "chosen": outcome.chosen, "mirror": outcome.mirror, "recommended": plan.recommended if plan else None,
        "diagnosis": to_jsonable(plan.diagnosis) if plan else to_jsonable(outcome.final),
        "choices": to_jsonable(plan.choices) if plan else [],
        "steps": to_jsonable(outcome.steps), "proven": outcome.proven, "changed": outcome.changed,
        "failure": outcome.failure,
        "final": to_jsonable(outcome.final), "report": outcome.report_path,
    }


# -- interactive -------------------------------------------------------------------------------------

def _run_interactive(options: Any, ui: Ui, children: Any = None, demo: Optional[str] = None) -> CommandResult:
    from envdoctor.fix.walk import run_fix

    console = ui.console()

    def say(key: str, params: dict) -> None:
        console.print(ui.text(key, **params), style="dim", markup=False)

    def ask(plan) -> Optional[str]:
        _show_plan(plan, ui)
        return prompt_choice(plan, ui, options.choose)

    outcome = run_fix(options, ui.text, ask, children=children, say=say, attached=True,
                      pick_mirror=lambda offered: prompt_mirror(offered, ui))
    _forget_demo_files(outcome, demo)
    return CommandResult("fix", outcome.status, outcome.exit_code, data=lambda lang: data(outcome, ui, demo),
                         render=lambda view: _show_outcome(outcome, view, demo))


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


def prompt_mirror(offered: Any, ui: Ui) -> Optional[str]:
    """Before B: where the wheels come from. A number or a name; Enter: the first (PyTorch's own); q: cancel."""
    from rich.text import Text

    console = ui.console()
    console.print(Text(ui.text("fix.mirror.title"), style="bold"))
    for number, option in enumerate(offered, 1):
        console.print(Text(ui.text("fix.mirror.row", number=number, name=option.name, title=option.title,
                                   region=ui.text(f"upgrade.region.{option.region}"))))
    while True:
        try:
            answer = console.input(ui.text("fix.mirror.ask", last=len(offered), default=offered[0].name)).strip()
        except EOFError:
            return None
        if answer in ("", "\r"):
            return offered[0].name
        if answer.lower() in ("q", "quit", "exit", "退出"):
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(offered):
            return offered[int(answer) - 1].name
        named = next((o.name for o in offered if o.name == answer.lower()), None)
        if named is not None:
            return named
        console.print(ui.text("fix.mirror.invalid", last=len(offered)), markup=False)


def _show_plan(plan: Any, ui: Ui) -> None:
    from rich.table import Table
    from rich.text import Text

    console = ui.console()
    diagnosis = plan.diagnosis
    console.print(Text(ui.text("fix.title"), style="bold"))
    console.print(Text(diagnosis.summary or ui.text(f"fix.verdict.{diagnosis.exit_code}")))
    if diagnosis.blocking or diagnosis.warnings:
        console.print(Text(ui.text("fix.findings.title")))
    for finding in diagnosis.blocking:
        console.print(Text("  ✗ " + finding.title, style="red"))
    for finding in diagnosis.warnings:  # what matters to the user too: the CPU, a slow first start...
        console.print(Text("  ! " + finding.title, style="yellow"))
    for title in diagnosis.log_errors:
        console.print(Text("  " + ui.text("fix.log_error", title=title), style="yellow"))
    table = Table(show_lines=True)
    # "fold", never "…": Chinese text has no spaces to wrap at, and a cut hint cannot be typed.
    table.add_column(ui.text("fix.col.choice"), overflow="fold")
    table.add_column(ui.text("fix.col.gives"), overflow="fold")
    table.add_column(ui.text("fix.col.costs"), overflow="fold")
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


def _show_outcome(outcome: Any, ui: Ui, demo: Optional[str] = None) -> None:
    from rich.text import Text

    console = ui.console()
    if demo:
        console.print(Text(ui.text("fix.demo.note", scenario=demo), style="dim"))
    style = {"fixed": "green", "nothing-to-do": "green", "changed-unproven": "yellow", "failed-rolled-back": "red",
             "failed": "red", "could-not-check": "yellow"}.get(outcome.status, "")
    key = f"fix.outcome.{outcome.status}"
    if demo and outcome.status == "planned":
        key = "fix.outcome.planned-demo"  # the command to try next is the demo's, not one on the user's folder
    console.print(Text(ui.text(key), style=style))
    if outcome.failure:  # the reason lives in the child's envelope: the user must see it here too
        console.print(Text(ui.text("fix.failure_reason", reason=outcome.failure)))
    if outcome.final is not None and outcome.final.error:
        console.print(Text(outcome.final.error))
    if outcome.mirror:
        console.print(Text(ui.text("fix.mirror.used", mirror=outcome.mirror)))
    if outcome.status == "failed-rolled-back" and outcome.proven is False:
        console.print(Text(ui.text("fix.proven.no")))
    final = outcome.final
    if outcome.status == "unchanged" and final is not None:
        console.print(Text(ui.text(f"fix.verdict.{final.exit_code}")))
    if outcome.status in ("fixed", "changed-unproven", "unchanged") and final is not None \
            and (final.blocking or final.warnings or final.log_errors):
        console.print(Text(ui.text("fix.still.title")))  # after A: what still warns (slow first start...)
        for finding in final.blocking:
            console.print(Text("  ✗ " + finding.title, style="red"))
        for finding in final.warnings:
            console.print(Text("  ! " + finding.title, style="yellow"))
        for title in final.log_errors:  # the log predates the change; it is still what the user saw
            console.print(Text("  " + ui.text("fix.log_error", title=title), style="yellow"))
    if outcome.report_path:
        console.print(Text(ui.text("fix.report_written", path=outcome.report_path), style="bold"))


def _write_launchers(root: str, ui: Ui) -> CommandResult:
    from envdoctor.fix.launchers import write_launchers

    written = write_launchers(root)

    def render(view: Ui) -> None:
        console = view.console()
        for path in written:
            console.print(view.text("fix.launcher_written", path=path), markup=False)
        if not written:
            console.print(view.text("fix.launcher_kept"), markup=False)

    return CommandResult("fix", "launchers-written", 0, data={"status": "launchers-written", "written": written},
                         render=render)
