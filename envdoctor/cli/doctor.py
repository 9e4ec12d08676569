"""`envdoctor doctor`: check + smoke tests in the runtime's own Python + recommended settings.

Exit codes as check: 0 ready, 1 warnings, 2 will fail (something broke), 3 could not check.
"""

from __future__ import annotations

import argparse

from envdoctor.cli.ui import Ui

HELP = "check, then run the operations that break GPT-SoVITS on new GPUs (in child processes, one per GPU)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    from envdoctor.cli.check import add_probe_options, add_target_options, seconds

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


def run(args: argparse.Namespace, ui: Ui) -> int:
    import os

    from envdoctor.cli.check import machine_options
    from envdoctor.doctor.catalog import TESTS, select
    from envdoctor.doctor.pipeline import run_doctor
    from envdoctor.errors import UsageError
    from envdoctor.probes.collect import CollectOptions

    if args.list_tests:
        return _list_tests(ui, TESTS)
    extension = os.path.abspath(args.extension) if args.extension else None
    if extension and not os.path.isfile(extension):
        raise UsageError("error.extension_missing", path=extension)
    tests = select(args.only, args.skip, extension)
    options = CollectOptions(root=args.root, python=args.python, live=True, scan=not args.no_scan,
                             live_timeout=args.live_timeout, **machine_options(args))
    if ui.json_mode:
        report = run_doctor(options, tests, select=args.gpu, timeout=args.test_timeout, extension=extension)
        from envdoctor.report.doctor_view import doctor_envelope

        ui.print_json(doctor_envelope(report, ui.lang))
        return report.check.verdict.exit_code
    from envdoctor.doctor.progress import SmokeProgress

    # The live view goes to stderr (stdout is the report); it disappears when the tests are done.
    with SmokeProgress(ui.console(stderr=True), ui.text) as progress:
        report = run_doctor(options, tests, select=args.gpu, timeout=args.test_timeout, extension=extension,
                            progress=progress)
    console = ui.console()
    from envdoctor.report.doctor_view import render_doctor

    render_doctor(report, ui.lang, console, verbose=args.verbose)
    return report.check.verdict.exit_code


def _list_tests(ui: Ui, tests) -> int:
    if ui.json_mode:
        ui.print_json({"schema": "envdoctor.doctor-tests", "schema_version": 1,
                       "tests": [{"name": t.name, "feature": t.feature, "needs": t.needs,
                                  "title": ui.text(f"smoke.test.{t.name}")} for t in tests]})
        return 0
    console = ui.console()
    for t in tests:
        console.print(f"{t.name:18} {ui.text(f'smoke.test.{t.name}')}")
    return 0
