"""`envdoctor scan PATH...`: which SASS and PTX every CUDA binary really carries, and what that
means for a GPU. Reads fat-binary headers only (ELF .so and Windows PE .dll alike)."""

from __future__ import annotations

import argparse
import os
from typing import Dict, List, Sequence

from envdoctor.cli.ui import Ui

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
            # Judged on registered and embedded kernels together: both are what the library can run.
            record["coverage"] = {
                format_cc(cc): coverage.verdict(cc, scan.all_sass, scan.all_ptx) for cc in capabilities
            }
            record["registered_coverage"] = {
                format_cc(cc): coverage.verdict(cc, scan.sass, scan.ptx) for cc in capabilities
            }
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
    return {"schema": "envdoctor.scan", "schema_version": 2, "binaries": binaries, "gpus": summary}


def exit_code(result: Dict) -> int:
    from envdoctor.diagnose import coverage

    verdicts = {entry["verdict"] for entry in result["gpus"].values()}
    if coverage.NONE in verdicts:
        return 2
    if coverage.PTX_JIT in verdicts or any(b.get("error") for b in result["binaries"]):
        return 1
    return 0


def run(args: argparse.Namespace, ui: Ui) -> int:
    from envdoctor.errors import UsageError
    from envdoctor.paths import cache_dir
    from envdoctor.probes.fatbin import ScanCache, scan_paths

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UsageError("error.path_not_found", path=missing[0])
    capabilities = _capabilities(args)
    embedded = not args.registered_only
    scans = scan_paths(args.paths, cache=ScanCache(str(cache_dir()), embedded=embedded), embedded=embedded)
    result = build_result(scans, capabilities, args.all)
    if ui.json_mode:
        from envdoctor import __version__

        ui.print_json(dict(result, envdoctor_version=__version__))
    else:
        _render(result, ui)
    return exit_code(result)


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
    embedded_label = ui.text("ui.scan.embedded")
    for binary in result["binaries"]:
        sass = _counts(binary["sass"], binary.get("embedded_sass") or {}, embedded_label)
        ptx = _counts(binary["ptx"], binary.get("embedded_ptx") or {}, embedded_label)
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
    if any(b.get("embedded_entries") for b in result["binaries"]):
        console.print(ui.text("ui.scan.embedded_note"))


def _counts(registered: Dict[str, int], embedded: Dict[str, int], label: str) -> str:
    """Registered counts on the first line, embedded ones (if any) on a second, labelled line."""
    text = " ".join(f"{arch}×{n}" for arch, n in registered.items())
    if embedded:
        text = (text or "-") + f"\n{label}: " + " ".join(f"{arch}×{n}" for arch, n in embedded.items())
    return text
