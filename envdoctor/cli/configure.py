"""`envdoctor configure`: write this machine's FP16 / speaker-verification / arch-list defaults into
GPT-SoVITS. Preview (a unified diff) by default; --yes applies; --revert restores; --show explains.
Exit 0 done (or nothing to do), 1 done but some target was refused, 3 error (nothing written)."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from typing import Any, Dict, List

from envdoctor.cli.ui import Ui
from envdoctor.fileio.paths import host_platform
from envdoctor.gptsovits.settings import FP16_CHOICES, G2PW_CHOICES, SV_CHOICES
from envdoctor.i18n import message
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "write FP16, v2Pro speaker-verification and TORCH_CUDA_ARCH_LIST defaults into GPT-SoVITS (preview first)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("configure", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("--root", help="GPT-SoVITS folder (default: current folder)")
    parser.add_argument("--fp16", choices=FP16_CHOICES,
                        help="half-precision inference (auto: off when the check finds the FP16 abort risk)")
    parser.add_argument("--v2pro-sv", dest="v2pro_sv", choices=SV_CHOICES,
                        help="v2Pro speaker verification: on, cpu (same feature, no NVRTC), off "
                        "(auto: cpu when torch's NVRTC is too old for this GPU)")
    parser.add_argument("--g2pw", choices=G2PW_CHOICES,
                        help="G2PW Chinese text frontend: on (GPT-SoVITS's choice: CUDA when onnxruntime offers it), "
                        "cpu (auto: cpu when onnxruntime-gpu's CUDA provider has no kernel for this GPU)")
    parser.add_argument("--arch-list", dest="arch_list", metavar="auto|VALUE|off",
                        help="TORCH_CUDA_ARCH_LIST for the launchers (auto: this GPU's compute capability)")
    parser.add_argument("--device", metavar="keep|cpu|cuda|cuda:N", help="tts_infer.yaml custom.device")
    parser.add_argument("--launcher-check", dest="launcher_check", action="store_true", default=None,
                        help="launchers run `envdoctor check` first and stop when it says the WebUI will fail")
    parser.add_argument("--no-launcher-check", dest="launcher_check", action="store_false")
    parser.add_argument("--check-command", metavar="CMD",
                        help="how the launchers call envdoctor (default: envdoctor)")
    parser.add_argument("--no-live", action="store_true", help="auto: judge from files only, without import torch")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--yes", "-y", action="store_true", help="apply the changes shown")
    action.add_argument("--revert", action="store_true", help="restore every file envdoctor changed, byte for byte")
    action.add_argument("--show", action="store_true", help="print the settings in effect and where each comes from")
    parser.add_argument("--show-diff", action="store_true",
                        help="with --yes: also print the lines changed in each file (the preview always shows them)")
    parser.add_argument("--force", action="store_true",
                        help="with --revert: restore even files changed since envdoctor wrote them")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.gptsovits import layout

    installation = layout.detect(args.root)
    if args.show:
        return _show(installation, ui)
    if args.revert:
        return _revert(installation, args, ui)
    return _configure(installation, args, ui)


def _result(mode: str, installation: Any, code: int, render: Any, **extra: Any) -> CommandResult:
    payload = {"mode": mode,
               "installation": {"root": installation.root, "generation": installation.generation,
                                "has_v2pro_sv": installation.has_sv,
                                "config_overrides_is_half": installation.config_overrides_env}}
    payload.update(extra)
    return CommandResult("configure", mode, code, data=payload, render=render)


def _messages(lang: str, items: List[Any]) -> List[Dict[str, Any]]:
    return [{"key": key, "message": message(lang, key, **params), "params": params} for key, params in items]


def _configure(installation: Any, args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.gptsovits.configuring import configure
    from envdoctor.support import advice

    def get_advice() -> Any:
        # A spinner on stderr while the check runs, except for --json (its reader wants no decoration).
        busy = nullcontext() if ui.json_mode else ui.console(stderr=True).status(ui.text("configure.checking"))
        with busy:
            return advice.recommend(installation.root, live=not args.no_live)

    requested = {"fp16": args.fp16, "v2pro_sv": args.v2pro_sv, "arch_list": args.arch_list, "device": args.device,
                 "g2pw": args.g2pw}
    done = configure(installation, requested, args.yes, get_advice,
                     lambda: advice.detect_arch_list(installation.bundle_os), args.launcher_check,
                     args.check_command, lambda key, lang=None: message(lang or ui.lang, key), host_platform())
    return _result("applied" if done.applied else "preview", installation, done.exit_code,
                   lambda view: _render_configure(view, installation, done.settings, done.changes, done.plan,
                                                  done.applied, getattr(args, "show_diff", False)),
                   settings=done.settings.to_json(), changes=done.changes,
                   refusals=_messages(ui.lang, done.plan.refusals), notes=_messages(ui.lang, done.plan.notes))


def _render_configure(ui: Ui, installation: Any, settings: Any, changes: List[Dict[str, Any]], plan: Any,
                      applied: bool, show_diff: bool = False) -> None:
    from envdoctor.i18n import colon
    from envdoctor.i18n.lines import localize_line

    console = ui.console()
    console.soft_wrap = True  # the terminal wraps; rich's wrapping would cut diff lines and CJK words
    if applied and changes:
        # The result first, then what it was: the diff (70 lines for a bundle) only when asked for.
        console.print(ui.text("configure.applied"), style="green", markup=False)
        for change in changes:
            added, removed = _counts(change["diff"])
            console.print("  " + ui.text("configure.changed_file", file=change["file"], added=added,
                                         removed=removed), markup=False)
    console.print(ui.text("configure.title", root=installation.root, generation=installation.generation), markup=False)
    for key, choice in (("fp16", settings.fp16), ("v2pro_sv", settings.sv), ("g2pw", settings.g2pw),
                        ("arch_list", settings.arch_list), ("device", settings.device)):
        value = ui.text("configure.keep") if choice.value is None else _value(choice.value)
        why = f" ({localize_line(ui.lang, choice.evidence)})" if choice.evidence else ""
        console.print(f"  {ui.text('configure.setting.' + key)}{colon(ui.lang)}{value}  "
                      f"[{ui.text('configure.source.' + choice.source)}]{why}", markup=False)
    for change in changes if (show_diff or not applied) else []:
        console.print("")
        for line in change["diff"].splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
    if not changes:
        console.print(ui.text("configure.no_changes"))
    for key, params in plan.refusals:
        console.print(ui.text("configure.refused") + " " + ui.text(key, **params), style="yellow", markup=False)
    for key, params in plan.notes:
        console.print("* " + ui.text(key, **params), markup=False)
    if changes and applied and not show_diff:
        console.print(ui.text("configure.diff_hint"), style="dim", markup=False)
    elif changes and not applied:
        console.print(ui.text("configure.preview_hint"))


def _counts(diff: str) -> Any:
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return added, removed


def _value(value: Any) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def _revert(installation: Any, args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.gptsovits import writer

    result = writer.revert(installation.root, force=args.force)
    return _result("revert", installation, 0, lambda view: _render_revert(view, result),
                   restored=list(result.restored), deleted=list(result.deleted), drifted=list(result.drifted))


def _render_revert(ui: Ui, result: Any) -> None:
    console = ui.console()
    if not (result.restored or result.deleted):
        console.print(ui.text("configure.revert.nothing"))
        return
    for name in result.restored:
        console.print(ui.text("configure.revert.restored", file=name), markup=False)
    for name in result.deleted:
        console.print(ui.text("configure.revert.deleted", file=name), markup=False)


def _show(installation: Any, ui: Ui) -> CommandResult:
    from envdoctor.gptsovits.show import effective

    rows = effective(installation)
    return _result("show", installation, 0, lambda view: _render_show(view, installation, rows), settings=[
        {"setting": r.setting, "value": r.value, "source": r.source, "file": r.file,
         "applies_to": r.applies_to} for r in rows])


def _render_show(ui: Ui, installation: Any, rows: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    # Paths and values read from the user's files are text, not rich markup ("[/x]" would crash).
    table = Table(title=escape(ui.text("configure.show.title", root=installation.root,
                                       generation=installation.generation)))
    for column in ("setting", "value", "source", "applies"):
        table.add_column(ui.text("configure.show.col." + column), overflow="fold")
    for row in rows:
        source = ui.text("configure.where." + row.source) + (f" ({row.file})" if row.file else "")
        applies = ui.text("configure.applies." + row.applies_to) if row.applies_to else ""
        table.add_row(ui.text("configure.setting." + row.setting), escape(row.value), escape(source), applies)
    ui.console().print(table)
