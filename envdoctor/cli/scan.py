"""`envdoctor scan PATH...`: which SASS and PTX every CUDA binary really carries, and what that
means for a GPU. Reads fat-binary headers only (ELF .so and Windows PE .dll alike)."""

from __future__ import annotations

import argparse
import os
from typing import Dict, List

from envdoctor.cli.ui import Ui
from envdoctor.errors import UsageError
from envdoctor.fileio.paths import cache_dir
from envdoctor.result import CommandResult

# Imports inside run() and its helpers: main imports every command module to register its parser;
# `check` must start without loading other commands' code (bench/check_speed.py).

HELP = "list the CUDA kernels (SASS/PTX per arch) inside shared libraries, and their coverage of a GPU"
DESCRIPTION = HELP + """.

Goes beyond cuobjdump: cuobjdump lists only the registered fat binary (the one the CUDA runtime
loads with the library) and cannot read a Windows DLL at all.  This scan reads ELF .so and PE .dll
alike and also searches each library's data sections for the fat-binary containers it loads
itself: NVIDIA's cuFFT registers a one-entry stub and keeps ~24,000 containers there.  Those are
listed as "embedded", apart from the registered ones, and coverage is judged on both together."""


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("scan", parents=[parent], help=HELP, description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders (every shared library below)")
    parser.add_argument("--cc", action="append", metavar="X.Y",
                        help="judge coverage for this compute capability (repeatable; default: this machine's GPUs)")
    parser.add_argument("--all", action="store_true", help="also list libraries without CUDA kernels")
    parser.add_argument("--registered-only", action="store_true",
                        help="read only the registered fat binaries, as cuobjdump does (faster; misses "
                             "the embedded kernels of cuFFT and the like)")


def _capabilities(args: argparse.Namespace) -> List[tuple]:
    from envdoctor.model import parse_cc
    from envdoctor.probes.gpus import OverrideError, detect_gpus

    if args.cc:
        try:
            return sorted({parse_cc(text) for text in args.cc})
        except ValueError as exc:
            raise UsageError("error.bad_cc", value=", ".join(args.cc)) from exc
    try:
        gpus = detect_gpus().gpus
    except OverrideError as exc:
        raise UsageError("error.gpu_override", detail=str(exc)) from exc
    return sorted({g.compute_capability for g in gpus if g.compute_capability})


def _delegates():
    """path -> whether the matrix says that library runs another one's kernels (binaries.yaml)."""
    from envdoctor.matrix.loader import load_matrix

    matrix = load_matrix()
    return lambda path: matrix.binary_role(path).kernels == "delegated"


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.diagnose.scan_result import NO_VERDICT, build_result, exit_code, status
    from envdoctor.probes.fatbin import ScanCache, scan_paths

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UsageError("error.path_not_found", path=missing[0])
    capabilities = _capabilities(args)
    embedded = not args.registered_only
    scans = scan_paths(args.paths, cache=ScanCache(str(cache_dir()), embedded=embedded), embedded=embedded)
    result = build_result(scans, capabilities, args.all, named=args.paths, delegates=_delegates())
    code = exit_code(result)
    if code == NO_VERDICT:
        result["notes"] = [{"key": "ui.scan.no_gpu", "message": ui.text("ui.scan.no_gpu"), "params": {}}]
    return CommandResult("scan", status(code), code, data=result, render=lambda view: _render(result, view))


def _render(result: Dict, ui: Ui) -> None:
    from rich.markup import escape
    from rich.table import Table

    from envdoctor.diagnose.scan_result import NOT_A_BINARY
    from envdoctor.model import arch_of

    console = ui.console()
    table = Table()
    table.add_column(ui.text("ui.scan.binary"), overflow="fold")
    table.add_column("SASS", overflow="fold")
    table.add_column("PTX", overflow="fold")
    gpus = list(result["gpus"])
    for key in gpus:
        table.add_column(arch_of(key), no_wrap=True, overflow="fold")
    embedded_label = ui.text("ui.scan.embedded")
    for binary in result["binaries"]:
        sass = _counts(binary["sass"], binary.get("embedded_sass") or {}, embedded_label)
        ptx = _counts(binary["ptx"], binary.get("embedded_ptx") or {}, embedded_label)
        if binary.get("error") and binary["error"] != NOT_A_BINARY:
            sass = f"[red]{binary['error']}[/red] {escape(binary.get('error_detail') or '')} {sass}".strip()
        elif not binary.get("cuda"):
            sass = ui.text("ui.scan.no_cuda_code")
        verdicts = [ui.text(f"ui.coverage.{binary['coverage'][k]}") if binary.get("coverage") else "-" for k in gpus]
        table.add_row(escape(binary["path"]), sass or "-", ptx or "-", *verdicts)
    console.print(table)
    if not any(b.get("cuda") for b in result["binaries"]):
        console.print(ui.text("ui.scan.no_cuda"))
    for note in result.get("notes", []):
        console.print(note["message"], style="yellow")
    for key, entry in result["gpus"].items():
        if entry["verdict"] is None:
            continue
        line = ui.text("ui.scan.summary", arch=arch_of(key),
                       verdict=ui.text(f"ui.coverage.{entry['verdict']}"))
        console.print(line)
        for path in entry["lacking"]:
            console.print(f"  ✗ {path}", markup=False)
    if any(b.get("embedded_entries") for b in result["binaries"]):
        console.print(ui.text("ui.scan.embedded_note"))


def _counts(registered: Dict[str, int], embedded: Dict[str, int], label: str) -> str:
    """Registered counts on the first line, embedded ones (if any) on a second, labelled line."""
    text = " ".join(f"{arch}×{n}" for arch, n in registered.items())
    if embedded:
        text = (text or "-") + f"\n{label}: " + " ".join(f"{arch}×{n}" for arch, n in embedded.items())
    return text
