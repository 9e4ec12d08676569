"""`envdoctor report`: one redacted zip (HTML, Markdown, JSON, raw evidence) to attach to a support ticket."""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, Optional

from envdoctor.cli.check import add_probe_options, add_target_options, machine_options
from envdoctor.cli.ui import Ui
from envdoctor.envelope import HEAD
from envdoctor.errors import UsageError
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "write a redacted support report (.zip with report.html, report.md, report.json and the evidence)"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("report", parents=[parent], help=HELP, description=HELP)
    add_target_options(parser)
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="zip to write (default: envdoctor-report-<time>.zip in the current folder)")
    parser.add_argument("--doctor", action="store_true", help="also run the doctor's smoke tests (slower)")
    parser.add_argument("--log", action="append", default=[], metavar="FILE",
                        help="include the tail of this log and explain its last error (repeatable)")
    parser.add_argument("--no-redact", action="store_true",
                        help="keep user names, paths, addresses and tokens (do NOT post such a report publicly)")
    parser.add_argument("--from", dest="from_report", metavar="REPORT",
                        help="re-render an existing report.json (or report zip) instead of checking this machine")
    add_probe_options(parser, live=True)


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    """Exit 0 once the zip is written; the envelope (report.json) tells the checked machine's verdict."""
    from envdoctor.report.bundle import render_files, write_zip
    from envdoctor.report.document import current_head
    from envdoctor.report.redact import Redactor

    redactor = Redactor.for_machine(enabled=not args.no_redact)
    if args.output and not os.path.isdir(args.output):
        from envdoctor.fileio.safeio import UnsafePathError, check_output_target

        try:
            check_output_target(args.output)  # say so before the minute a check can take
        except UnsafePathError as exc:
            raise exc.as_error() from exc
    if args.from_report:
        from envdoctor.support.readback import rerender

        files, envelope = rerender(args.from_report, ui.lang if args.lang else None, redactor)
        output = _output_path(args.output, envelope)
    else:
        document = _from_machine(args, ui, redactor)
        document = current_head(document)
        files, envelope = render_files(document)
        output = _output_path(args.output, envelope)
    from envdoctor.fileio.safeio import UnsafePathError

    try:
        write_zip(output, files)
    except UnsafePathError as exc:
        raise exc.as_error() from exc
    except OSError as exc:
        raise UsageError("report.error.write", path=output, detail=exc.strerror or str(exc)) from exc
    # report.json is already an envdoctor.report envelope (written by envdoctor.envelope in gather).
    body = {k: v for k, v in envelope.items() if k not in HEAD}
    return CommandResult("report", str(envelope.get("verdict")), 0, data=body, lang=envelope.get("lang"),
                         render=lambda view: _print_done(view, envelope, output))


def _from_machine(args: argparse.Namespace, ui: Ui, redactor: Any) -> Any:
    from envdoctor.fileio.safeio import path_kind
    from envdoctor.probes.collect import CollectOptions
    from envdoctor.report.document import redact_document
    from envdoctor.support.gather import ReportOptions, gather

    for path in args.log:
        kind = path_kind(path)
        if kind == "missing":
            raise UsageError("report.error.log_missing", path=path)
        if kind != "file":  # say what it is: a FIFO, a device, a folder, a symlink loop
            raise UsageError(f"safety.path.{kind}", path=path, detail=kind, limit="")
    options = ReportOptions(
        collect=CollectOptions(root=args.root, python=args.python, live=not args.no_live, scan=not args.no_scan,
                               live_timeout=args.live_timeout, **machine_options(args)),
        gpu=args.gpu,
        doctor=args.doctor,
        logs=tuple(args.log),
    )
    if ui.json_mode:
        raw = gather(options, ui.lang)
    else:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=ui.console(stderr=True), transient=True) as progress:
            task = progress.add_task(ui.text("report.step.check"), total=None)
            raw = gather(options, ui.lang, progress=lambda key: progress.update(task, description=ui.text(key)),
                         smoke_progress=_SmokeLine(progress, task, ui))
    return redact_document(raw, redactor)


class _SmokeLine:
    """During `--doctor`, the step line names the smoke test running and how many are done, so a slow
    first torch start on the user's machine does not look like a hang."""

    def __init__(self, progress: Any, task: Any, ui: Ui) -> None:
        self.progress, self.task, self.ui = progress, task, ui
        self.done, self.total = 0, 0

    def __call__(self, event: Any) -> None:
        self.total = event.total or self.total
        if event.kind == "done":
            self.done += 1
        elif event.kind == "start":
            gpu = "-" if event.gpu_index is None else f"GPU {event.gpu_index}"
            self.progress.update(self.task, description=self.ui.text(
                "report.step.smoke", test=event.test, gpu=gpu, done=self.done, total=self.total))


def _output_path(output: Optional[str], envelope: Dict[str, Any]) -> str:
    stamp = str(envelope["report"].get("generated_at", "")).replace("-", "").replace(":", "").replace("T", "-")
    name = f"envdoctor-report-{stamp.rstrip('Z') or 'now'}.zip"
    if not output:
        return os.path.abspath(name)
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        return os.path.abspath(os.path.join(output, name))
    return os.path.abspath(output)


def _print_done(ui: Ui, envelope: Dict[str, Any], output: str) -> None:
    from rich.text import Text

    from envdoctor.report.view import build_view

    console = ui.console()
    head = build_view(envelope).headline
    console.print(Text(head.verdict_text, style="bold"))
    if head.title:
        console.print(f"{ui.text('report.top_finding')}: {head.title}")
        if head.fix:
            console.print(f"{ui.text('ui.fix')}: {head.fix}")
    console.print(ui.text("report.written", path=output))
    state = envelope["report"].get("gptsovits") or {}
    if state.get("bundle") is False or not state.get("root"):
        console.print(ui.text("report.gptsovits.no_bundle", root=state.get("root") or "-"), markup=False)
    if not envelope["report"].get("redacted", True):
        console.print(Text(ui.text("report.not_redacted"), style="bold red"))
