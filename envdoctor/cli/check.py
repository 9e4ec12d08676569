"""`envdoctor check`: the fast pre-launch verdict. Exit 0 ready, 1 warnings, 2 will fail, 3 could not check."""

from __future__ import annotations

import argparse

from envdoctor.cli.ui import Ui

HELP = "pre-launch check: will this GPU + driver + runtime torch build run? (exit 0/1/2/3)"


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="GPT-SoVITS folder holding runtime/ (default: current folder)")
    parser.add_argument("--python", help="check this interpreter's environment instead of ROOT/runtime")
    parser.add_argument("--gpu", type=int, action="append", metavar="N", help="only GPU N (repeatable)")


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("check", parents=[parent], help=HELP, description=HELP)
    add_target_options(parser)
    parser.add_argument("--no-live", action="store_true",
                        help="do not run the runtime's Python (files only; fastest, no import torch)")
    parser.add_argument("--no-scan", action="store_true", help="do not read CUDA binaries' fat-binary headers")
    parser.add_argument("--live-timeout", type=float, default=90.0, metavar="S",
                        help="seconds to wait for the runtime's 'import torch' (default 90)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show details and evidence of every finding")
    parser.add_argument("--demo", nargs="?", const="rtx5060ti-v2pro", metavar="SCENARIO",
                        help="check a built-in example bundle on a simulated GPU (no GPU needed); "
                        "scenarios: rtx5060ti-v2pro (default: the memo's machine), rtx5060ti-cu124, "
                        "rtx5060ti-cu128, rtx4060-cu124")


def run(args: argparse.Namespace, ui: Ui) -> int:
    from envdoctor.pipeline import run_check
    from envdoctor.probes.collect import CollectOptions

    options = CollectOptions(root=args.root, python=args.python, live=not args.no_live, scan=not args.no_scan,
                             live_timeout=args.live_timeout)
    if args.demo:
        from envdoctor.demo import demo_bundle

        with demo_bundle(args.demo) as (root, gpus):
            options = CollectOptions(root=root, live=False, scan=not args.no_scan)
            report = run_check(options, gpus=gpus, select=args.gpu)
            return _show(report, args, ui)
    report = run_check(options, select=args.gpu)
    return _show(report, args, ui)


def _show(report, args: argparse.Namespace, ui: Ui) -> int:
    _render(report, args, ui)
    return report.verdict.exit_code


def _render(report, args: argparse.Namespace, ui: Ui) -> None:
    if ui.json_mode:
        from envdoctor.report.envelope import check_envelope

        ui.print_json(check_envelope(report, ui.lang))
    else:
        from envdoctor.report.terminal import render_check

        render_check(report, ui.lang, ui.console(), verbose=args.verbose)
        if ui.debug:
            timings = ", ".join(f"{name} {ms:.1f} ms" for name, ms in report.timings_ms)
            ui.console(stderr=True).print(f"timings: {timings}", style="dim")
