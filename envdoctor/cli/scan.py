"""`envdoctor scan PATH...`: which SASS and PTX every CUDA binary really carries, and what that
means for a GPU. Reads fat-binary headers only (ELF .so and Windows PE .dll alike)."""

from __future__ import annotations

import argparse
import os
from typing import Dict, List, Sequence

from envdoctor.cli.ui import Ui
from envdoctor.result import CommandResult

HELP = "list the CUDA kernels (SASS/PTX per arch) inside shared libraries, and their coverage of a GPU"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("scan", parents=[parent], help=HELP, description=HELP)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders (every shared library below)")
    parser.add_argument("--cc", action="append", metavar="X.Y",
                        help="judge coverage for this compute capability (repeatable; default: this machine's GPUs)")
    parser.add_argument("--all", action="store_true", help="also list libraries without CUDA kernels")


def _capabilities(args: argparse.Namespace) -> List[tuple]:
    from envdoctor.errors import UsageError
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


def build_result(scans: Sequence, capabilities: Sequence[tuple], show_all: bool) -> Dict:
    """The scan envelope: per-binary counts and verdicts, and the verdict of them all per GPU."""
    from envdoctor.diagnose import coverage
    from envdoctor.model import format_cc

    binaries = []
    for scan in scans:
        if not (show_all or scan.has_cuda or (scan.error and scan.error != "not-elf-or-pe")):
            continue
        record = scan.to_dict()
        if scan.has_cuda:
            record["coverage"] = {format_cc(cc): coverage.verdict(cc, scan.sass, scan.ptx) for cc in capabilities}
        binaries.append(record)
    summary = {}
    with_kernels = [b for b in binaries if b.get("coverage")]
    for cc in capabilities:
        key = format_cc(cc)
        verdicts = [b["coverage"][key] for b in with_kernels]
        summary[key] = {
            "verdict": coverage.combined(verdicts) if verdicts else None,
            "lacking": [b["path"] for b in with_kernels if b["coverage"][key] == coverage.NONE],
            "ptx_only": [b["path"] for b in with_kernels if b["coverage"][key] == coverage.PTX_JIT],
        }
    return {"binaries": binaries, "gpus": summary}


def exit_code(result: Dict) -> int:
    from envdoctor.diagnose import coverage

    verdicts = {entry["verdict"] for entry in result["gpus"].values()}
    if coverage.NONE in verdicts:
        return 2
    if coverage.PTX_JIT in verdicts or any(b.get("error") for b in result["binaries"]):
        return 1
    return 0


def run(args: argparse.Namespace, ui: Ui) -> CommandResult:
    from envdoctor.errors import UsageError
    from envdoctor.paths import cache_dir
    from envdoctor.probes.fatbin import ScanCache, scan_paths

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UsageError("error.path_not_found", path=missing[0])
    capabilities = _capabilities(args)
    scans = scan_paths(args.paths, cache=ScanCache(str(cache_dir())))
    result = build_result(scans, capabilities, args.all)
    code = exit_code(result)
    return CommandResult("scan", ("ready", "warnings", "will-fail")[code], code, data=result,
                         render=lambda view: _render(result, view))


def _render(result: Dict, ui: Ui) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = ui.console()
    table = Table()
    table.add_column(ui.text("ui.scan.binary"), overflow="fold")
    table.add_column("SASS", overflow="fold")
    table.add_column("PTX", overflow="fold")
    gpus = list(result["gpus"])
    for key in gpus:
        table.add_column(f"sm_{key.replace('.', '')}", no_wrap=True)
    for binary in result["binaries"]:
        sass = " ".join(f"{arch}×{n}" for arch, n in binary["sass"].items())
        ptx = " ".join(f"{arch}×{n}" for arch, n in binary["ptx"].items())
        if binary.get("error"):
            sass = f"[red]{binary['error']}[/red] {escape(binary.get('error_detail') or '')} {sass}".strip()
        verdicts = [ui.text(f"ui.coverage.{binary['coverage'][k]}") if binary.get("coverage") else "-" for k in gpus]
        table.add_row(escape(binary["path"]), sass or "-", ptx or "-", *verdicts)
    console.print(table)
    if not result["binaries"]:
        console.print(ui.text("ui.scan.no_cuda"))
    for key, entry in result["gpus"].items():
        if entry["verdict"] is None:
            continue
        line = ui.text("ui.scan.summary", arch=f"sm_{key.replace('.', '')}",
                       verdict=ui.text(f"ui.coverage.{entry['verdict']}"))
        console.print(line)
        for path in entry["lacking"]:
            console.print(f"  ✗ {path}", markup=False)
