"""`envdoctor check`: the fast pre-launch verdict. Exit 0 ready, 1 warnings, 2 will fail, 3 could not check."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from typing import Optional

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
    from envdoctor.check.pipeline import run_check
    from envdoctor.probes.collect import CollectOptions

    if args.demo:
        from envdoctor.demo import demo_bundle

        with demo_bundle(args.demo) as (root, gpus):
            options = CollectOptions(root=root, live=False, scan=not args.no_scan)
            report = run_check(options, gpus=gpus, select=args.gpu)
        return _result(report, args)  # the report is data: the demo folder need not outlive it
    from envdoctor.probes.live import BACKGROUND

    options = CollectOptions(root=args.root, python=args.python, live=not args.no_live, scan=not args.no_scan,
                             live_timeout=args.live_timeout, live_wait=not args.launcher,
                             on_live_start=None if ui.json_mode else lambda: _reading_torch(ui),
                             **machine_options(args))
    report = run_check(options, select=args.gpu)
    live = report.facts.live
    if live is not None and live.status == "skipped" and live.error == BACKGROUND:
        if report.verdict.exit_code in (0, 2):
            # The files answer (ready, or will fail): the launcher goes on now; the live facts are read
            # in the background for the next start. Not recorded for the replay.
            refresh_in_background(args.root, args.python, args.live_timeout)
            return _result(report, args)
        # Only warnings or no answer from the files: the live probe settles it, so wait for it this once.
        report = run_check(dataclasses.replace(options, live_wait=True), select=args.gpu)
        live = report.facts.live
    result = _result(report, args)
    # An answer whose live probe did not finish (timeout, crash) is asked again next time.
    if live is None or live.status in ("ok", "skipped"):
        result.replay_deps = lambda: replay_deps(report, args.root) + ([args.facts_from] if args.facts_from else [])
    return result


def _reading_torch(ui: Ui) -> None:
    """Said on stderr before the runtime's interpreter imports torch (seconds, once per runtime change),
    so that a launcher's window does not look hung."""
    try:
        sys.stderr.write(ui.text("check.reading_torch") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def refresh_in_background(root: Optional[str], python: Optional[str], timeout: Optional[float] = None) -> bool:
    """Start `check` (with its live probe) as a detached process that fills the cache, so the next
    launcher check has the live facts without waiting for them. False where it could not start."""
    import subprocess
    import sys

    from envdoctor.fix.children import self_command  # the same envdoctor: installed, -m or the .pyz

    args = [*self_command(), "check", "--json"]
    if timeout is not None:
        args += ["--live-timeout", str(timeout)]
    if python:
        args += ["--python", python]
    elif root:
        args += ["--root", root]
    options: dict = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
                     "close_fds": True}
    if sys.platform == "win32":
        # Its own process group, no console: closing the launcher's window does not kill it.
        options["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    try:
        subprocess.Popen(args, env=dict(os.environ, ENVDOCTOR_NO_REPLAY="1"), **options)
    except OSError:
        return False
    return True



def _result(report, args: argparse.Namespace) -> CommandResult:
    from envdoctor.report.check_data import check_data

    return CommandResult("check", report.verdict.value, report.verdict.exit_code,
                         data=lambda lang: check_data(report, lang),
                         render=lambda ui: _render(report, args, ui))


def replay_anchors(report, root) -> dict:
    """Where this answer's declared file inputs (envdoctor.probes.inputs.FILE_INPUTS) are anchored."""
    from envdoctor.probes import torchfiles
    from envdoctor.probes.inputs import anchor_paths

    facts = report.facts
    pairs = [("bundle", os.path.abspath(root or os.getcwd()))]
    if facts.runtime is not None:
        pairs += [("python", facts.runtime.python), ("runtime", facts.runtime.root)]
        pairs += [("site", site) for site in facts.runtime.site_packages]
        folders = torchfiles.cuda_binaries(facts.runtime, facts.torch.location if facts.torch else None)
        pairs += [("binaries", folder) for folder in folders]
    if facts.torch is not None:
        pairs.append(("torch", facts.torch.location))
        dist = facts.distribution("torch")
        if dist is not None and dist.path:
            pairs.append(("torch_dist", dist.path))
    if os.path.isdir(report.matrix_where):
        pairs.append(("matrix", report.matrix_where))
    return anchor_paths(pairs)


def replay_deps(report, root) -> list:
    """Every file and folder this answer was read from, as the probes declare them (see envdoctor.check.replay)."""
    from envdoctor.probes.inputs import declared_files

    return declared_files(replay_anchors(report, root))


def _render(report, args: argparse.Namespace, ui: Ui) -> None:
    from envdoctor.report.terminal import render_check

    render_check(report, ui.lang, ui.console(), verbose=args.verbose)
    if ui.debug:
        timings = ", ".join(f"{name} {ms:.1f} ms" for name, ms in report.timings_ms)
        ui.console(stderr=True).print(f"timings: {timings}", style="dim")
