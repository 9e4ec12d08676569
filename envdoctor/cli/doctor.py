"""`envdoctor doctor`: check + smoke tests in the runtime's own Python + recommended settings.

Exit codes as check: 0 ready, 1 warnings, 2 will fail (something broke), 3 could not check.
"""

from __future__ import annotations

import argparse
import os

from envdoctor.cli.check import add_probe_options, add_target_options, machine_options, seconds
from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.i18n import message
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "check, then run the operations that break GPT-SoVITS on new GPUs (in child processes, one per GPU)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("doctor", parents=[parent], help=HELP, description=HELP)
    add_target_options(parser)
    parser.add_argument("--only", action="append", metavar="TESTS",
                        help="run only these tests (comma-separated names, prefixes such as 'fft', or globs)")
    parser.add_argument("--skip", action="append", metavar="TESTS", help="do not run these tests")
    parser.add_argument("--list-tests", action="store_true", help="list the smoke tests and exit")
    parser.add_argument("--test-timeout", type=seconds, default=None, metavar="S",
                        help="seconds each test may take (default 180: a first run may JIT-compile kernels)")
    parser.add_argument("--extension", metavar="PATH",
                        help="also launch a kernel from this CUDA library (exports envdoctor_smoke_kernel)")
    add_probe_options(parser, live=False)
    parser.add_argument("-v", "--verbose", action="store_true", help="show details and evidence")


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.doctor.catalog import TESTS, select
    from envdoctor.doctor.pipeline import run_doctor
    from envdoctor.probes.collect import CollectOptions

    if args.list_tests:
        return _list_tests(TESTS)
    extension = os.path.abspath(args.extension) if args.extension else None
    if extension and not os.path.isfile(extension):
        raise UsageError("error.extension_missing", path=extension)
    tests = select(args.only, args.skip, extension)
    options = CollectOptions(root=args.root, python=args.python, live=True, scan=not args.no_scan,
                             live_timeout=args.live_timeout, **machine_options(args))
    if ui.json_mode:
        report = run_doctor(options, tests, select=args.gpu, timeout=args.test_timeout, extension=extension)
    else:
        report = _run_with_progress(ui, options, tests, args, extension)
    return CommandResult("doctor", report.check.verdict.value, report.check.verdict.exit_code,
                         data=lambda lang: _data(report, lang), render=lambda view: _render(report, args, view))


def _data(report, lang: str):
    from envdoctor.report.doctor_view import doctor_data

    return doctor_data(report, lang)


def _render(report, args: argparse.Namespace, ui: Ui) -> None:
    from envdoctor.report.doctor_view import render_doctor

    render_doctor(report, ui.lang, ui.console(), verbose=args.verbose)


def _run_with_progress(ui: Ui, options, tests, args: argparse.Namespace, extension):
    from envdoctor.doctor.pipeline import run_doctor
    from envdoctor.doctor.progress import SmokeProgress

    # The live view goes to stderr (stdout is the report); it disappears when the tests are done.
    with SmokeProgress(ui.console(stderr=True), ui.text) as progress:
        return run_doctor(options, tests, select=args.gpu, timeout=args.test_timeout, extension=extension,
                          progress=progress)


def _list_tests(tests) -> CommandResult:
    def data(lang: str):
        return {"tests": [{"name": t.name, "feature": t.feature, "needs": t.needs,
                           "title": message(lang, f"smoke.test.{t.name}")} for t in tests]}

    def render(ui: Ui) -> None:
        console = ui.console()
        for t in tests:
            console.print(f"{t.name:18} {ui.text(f'smoke.test.{t.name}')}")

    return CommandResult("doctor", "tests-listed", 0, data=data, render=render)
