"""`envdoctor explain [FILE|-]`: which known error does this traceback or WebUI log show, and why.

Exit 0 when a known error was found, 1 when none was (or the input was empty or binary), 3 when
the input could not be read.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, Optional, Tuple

from envdoctor.cli.ui import Ui
from envdoctor.errors import EnvdoctorError
from envdoctor.i18n import message
from envdoctor.process.invocation import retarget
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "explain a traceback or WebUI log: cause, evidence and fix of the known errors in it"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("explain", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("file", nargs="?", default="-", metavar="FILE",
                        help="log file (UTF-8, GBK or UTF-16); '-' or nothing reads standard input")
    parser.add_argument("--root", help="GPT-SoVITS folder, to relate the log to this machine's runtime")
    parser.add_argument("--python", help="that runtime's interpreter instead of ROOT/runtime")
    parser.add_argument("--no-machine", action="store_true", help="only read the log; do not look at this machine")


def _machine(args: argparse.Namespace, lang: str) -> Tuple[Optional[Any], Optional[str]]:
    """check's report (files only: fast, no import torch), or why there is none."""
    if args.no_machine:
        return None, "--no-machine"
    from envdoctor.check.pipeline import run_check
    from envdoctor.probes.collect import CollectOptions

    try:
        return run_check(CollectOptions(root=args.root, python=args.python, live=False, scan=True)), None
    except EnvdoctorError as error:
        return None, message(lang, error.key, **error.params)


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.matrix.loader import load_matrix

    matrix = load_matrix()
    from envdoctor.explain.explainer import explain

    report, note = _machine(args, ui.lang)
    result = explain(args.file, matrix.known_errors, report, note)
    # Without --root/--python, "no runtime in the current folder" is the normal case, not news.
    machine_asked = bool(args.root or args.python)
    return CommandResult("explain", status(result), result.exit_code, data=lambda lang: data(result, lang),
                         render=lambda view: render(result, view, machine_asked=machine_asked))


def status(result) -> str:
    kind = result.explanation.stats.kind
    return kind if kind != "text" else ("matched" if result.explanation.matches else "no-known-error")


def data(result, lang: str) -> Dict[str, Any]:
    from envdoctor.explain.explainer import localized
    from envdoctor.report.check_data import finding_dict

    ex = result.explanation
    links = {link.code: link for link in result.links}
    matches = []
    for match in ex.matches:
        error = match.error
        item: Dict[str, Any] = {
            "code": error.code, "title": localized(error.title, lang), "cause": localized(error.cause, lang),
            "fix": retarget(localized(error.fix, lang)), "source": error.source, "line": match.line_no,
            "evidence": match.line,
            "context": list(match.context), "count": match.count,
        }
        link = links.get(error.code)
        if link is not None:
            item["machine"] = {"status": link.status, "findings": [finding_dict(f, lang) for f in link.findings]}
        matches.append(item)
    return {
        "status": status(result),
        "input": {"name": result.name, "kind": ex.stats.kind, "encoding": ex.stats.encoding,
                  "lines": ex.stats.lines, "bytes": ex.stats.bytes_read, "truncated_lines": ex.stats.truncated_lines},
        "matches": matches,
        "error_lines": [{"line": n, "text": t} for n, t in ex.error_lines],
        "more_error_lines": ex.more_error_lines,
        "machine": None if result.machine is None else {"verdict": result.machine.verdict.value},
        "machine_note": result.machine_note,
        "slow_patterns": list(ex.slow_patterns),
    }


def _size(count: int) -> str:
    n = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def render(result, ui: Ui, machine_asked: bool = True) -> None:
    from rich.markup import escape
    from rich.text import Text

    from envdoctor.explain.explainer import localized

    console = ui.console()
    lang = ui.lang
    ex = result.explanation
    t = ui.text
    if ex.stats.kind == "empty":
        console.print(t("explain.empty"))
        return
    if ex.stats.kind == "binary":
        console.print(t("explain.binary", name=result.name))
        return
    console.print(Text(t("explain.header", name=result.name, lines=ex.stats.lines, size=_size(ex.stats.bytes_read),
                         encoding=ex.stats.encoding), style="dim"))
    links = {link.code: link for link in result.links}
    if ex.matches:
        console.print(Text(t("explain.found", count=len(ex.matches)), style="bold"))
        for number, match in enumerate(ex.matches, 1):
            error = match.error
            times = f" ({t('explain.times', count=match.count)})" if match.count > 1 else ""
            console.print(Text(f"\n{number}. {localized(error.title, lang)}  [{error.code}]", style="bold red"))
            console.print(Text(f"   {t('explain.line', line=match.line_no)}{times}: {match.line}", style="yellow"))
            for line in match.context:
                console.print(Text(f"      {line}", style="dim"))
            console.print(f"   [bold]{t('explain.cause')}:[/bold] {escape(localized(error.cause, lang))}")
            console.print(f"   [bold]{t('explain.fix')}:[/bold] {escape(retarget(localized(error.fix, lang)))}")
            link = links.get(error.code)
            if link is not None and result.machine is not None:
                console.print(f"   [bold]{t('explain.machine')}:[/bold] {escape(t('explain.machine.' + link.status))}")
                for finding in link.findings:
                    title = message(lang, f"finding.{finding.code}.title", **finding.params)
                    console.print(Text(f"      · {title}", style="cyan"))
            console.print(Text(f"   {t('explain.source')}: {error.source}", style="dim"))
    else:
        console.print(Text(t("explain.none"), style="bold"))
        console.print(t("explain.none_hint"))
    if not ex.matches or ui.debug:
        if ex.error_lines:
            console.print(Text("\n" + t("explain.error_lines"), style="bold"))
            for number, text in ex.error_lines:
                console.print(Text(f"  {number}: {text}"))
            if ex.more_error_lines:
                console.print(t("explain.more_error_lines", count=ex.more_error_lines))
        elif not ex.matches:
            console.print(t("explain.no_error_lines"))
    if ex.stats.truncated_lines:
        console.print(Text(t("explain.truncated", count=ex.stats.truncated_lines), style="dim"))
    for code in ex.slow_patterns:
        console.print(Text(t("safety.slow_pattern", id=code), style="yellow"))
    if result.machine is None and result.machine_note and machine_asked:
        console.print(Text(t("explain.machine_skipped", reason=result.machine_note), style="dim"))
