"""`envdoctor check`: the fast pre-launch verdict. Exit 0 ready, 1 warnings, 2 will fail, 3 could not check."""

from __future__ import annotations

import argparse
import math
import sys

from envdoctor.cli.ui import Ui
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py). doctor and report
# take their options from here, and --help loads this module too: neither pays for the check itself.

HELP = "pre-launch check: will this GPU + driver + runtime torch build run? (exit 0/1/2/3)"


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="GPT-SoVITS folder holding runtime/ (default: current folder)")
    parser.add_argument("--python", help="check this interpreter's environment instead of ROOT/runtime")
    parser.add_argument("--gpu", type=int, action="append", metavar="N", help="only GPU N (repeatable)")
    # A bundle for another OS (a Windows bundle examined from Linux/WSL) runs on someone else's machine.
    parser.add_argument("--assume-gpu", metavar="NAME@CC[;...]",
                        help="judge against this GPU instead of this machine's, e.g. 'NVIDIA GeForce RTX 5060 Ti@12.0'")
    parser.add_argument("--assume-driver", metavar="VERSION@CUDA",
                        help="with --assume-gpu: the driver, e.g. 576.02@12.9")
    parser.add_argument("--facts-from", metavar="REPORT",
                        help="take the GPU and driver from the report.json (or report zip) the user's machine wrote")


def machine_options(args: argparse.Namespace) -> dict:
    """The CollectOptions fields of --assume-gpu, --assume-driver and --facts-from."""
    return {"assume_gpu": getattr(args, "assume_gpu", None), "assume_driver": getattr(args, "assume_driver", None),
            "facts_from": getattr(args, "facts_from", None)}


def seconds(text: str) -> float:
    """--live-timeout: a finite number of seconds, more than 0 and at most a day (nan, inf and 1e309
    would make the wait endless or fail deep inside the runner)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0 or value > 86400:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds between 0 and 86400, not {text!r}")
    return value


def add_probe_options(parser: argparse.ArgumentParser, live: bool) -> None:
    """--no-scan and --live-timeout (and --no-live where the command may skip the live probe)."""
    if live:
        parser.add_argument("--no-live", action="store_true",
                            help="do not run the runtime's Python (files only; fastest, no import torch)")
    parser.add_argument("--no-scan", action="store_true", help="do not read CUDA binaries' fat-binary headers")
    parser.add_argument("--live-timeout", type=seconds, default=90.0, metavar="S",
                        help="seconds to wait for the runtime's 'import torch' (default 90)")


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("check", parents=[parent], help=HELP, description=HELP)
    add_target_options(parser)
    add_probe_options(parser, live=True)
    parser.add_argument("-v", "--verbose", action="store_true", help="show details and evidence of every finding")
    parser.add_argument("--launcher", action="store_true",
                        help="for launchers: where the files already say ready or will fail, do not wait for the "
                        "runtime's import torch; read it in the background for the next start")
    parser.add_argument("--demo", nargs="?", const="rtx5060ti-v2pro", metavar="SCENARIO",
                        help="check a built-in example bundle on a simulated GPU (no GPU needed); "
                        "scenarios: rtx5060ti-v2pro (default: an RTX 5060 Ti with a v2Pro bundle), rtx5060ti-cu124, "
                        "rtx5060ti-cu128, rtx4060-cu124")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.probes.collect import CollectOptions

    if args.demo:
        from envdoctor.check.pipeline import run_check
        from envdoctor.demo import demo_bundle

        with demo_bundle(args.demo) as (root, gpus):
            options = CollectOptions(root=root, live=False, scan=not args.no_scan)
            report = run_check(options, gpus=gpus, select=args.gpu)
        return _result(report, args)  # the report is data: the demo folder need not outlive it
    from envdoctor.check.prelaunch import prelaunch_check, replay_deps

    options = CollectOptions(root=args.root, python=args.python, live=not args.no_live, scan=not args.no_scan,
                             live_timeout=args.live_timeout, live_wait=not args.launcher,
                             on_live_start=None if ui.json_mode else lambda: _reading_torch(ui),
                             **machine_options(args))
    answer = prelaunch_check(options, select=args.gpu)
    result = _result(answer.report, args)
    if answer.replayable:
        result.replay_deps = lambda: (replay_deps(answer.report, args.root)
                                      + ([args.facts_from] if args.facts_from else []))
    return result


def _reading_torch(ui: Ui) -> None:
    """Said on stderr before the runtime's interpreter imports torch (seconds, once per runtime change),
    so that a launcher's window does not look hung."""
    try:
        sys.stderr.write(ui.text("check.reading_torch") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _result(report, args: argparse.Namespace) -> CommandResult:
    from envdoctor.report.check_data import check_data

    return CommandResult("check", report.verdict.value, report.verdict.exit_code,
                         data=lambda lang: check_data(report, lang),
                         render=lambda ui: _render(report, args, ui))


def _render(report, args: argparse.Namespace, ui: Ui) -> None:
    from envdoctor.report.terminal import render_check

    render_check(report, ui.lang, ui.console(), verbose=args.verbose)
    if ui.debug:
        timings = ", ".join(f"{name} {ms:.1f} ms" for name, ms in report.timings_ms)
        ui.console(stderr=True).print(f"timings: {timings}", style="dim")
