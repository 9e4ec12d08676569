"""What `envdoctor scan` concludes from the fat-binary scans: per-binary coverage of each compute
capability, the verdict of all binaries together, and the exit code. No I/O: the CLI scans and renders.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

from envdoctor.diagnose import coverage
from envdoctor.model import format_cc

NOT_A_BINARY = "not-elf-or-pe"
# exit codes: 0 native everywhere, 1 PTX JIT only or an unreadable binary, 2 a GPU lacks kernels,
# 3 no GPU to judge for (no GPU found and no --cc): the table is still shown.
NO_VERDICT = 3


def build_result(scans: Sequence[Any], capabilities: Sequence[tuple], show_all: bool,
                 named: Iterable[str] = (), delegates: Optional[Callable[[str], bool]] = None) -> Dict[str, Any]:
    """The scan envelope's data. A file named on the command line is always listed (one without CUDA
    code says so: `cuda` false); below a folder, only binaries with CUDA code or a real error (all with
    --all). `delegates(path)`: the matrix says the library runs another library's kernels (cuFFTW is a
    stub in front of cuFFT), so it is listed but left out of the verdict of all binaries together."""
    named_files = {os.path.realpath(path) for path in named if os.path.isfile(path)}
    binaries = []
    for scan in scans:
        listed = show_all or scan.has_cuda or (scan.error and scan.error != NOT_A_BINARY) \
            or os.path.realpath(scan.path) in named_files
        if not listed:
            continue
        record = scan.to_dict()
        record["cuda"] = bool(scan.has_cuda)
        record["delegated"] = bool(delegates and scan.has_cuda and delegates(scan.path))
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
    with_kernels = [b for b in binaries if b.get("coverage") and not b["delegated"]]
    for cc in capabilities:
        key = format_cc(cc)
        verdicts = [b["coverage"][key] for b in with_kernels]
        summary[key] = {
            "verdict": coverage.combined(verdicts) if verdicts else None,
            "lacking": [b["path"] for b in with_kernels if b["coverage"][key] == coverage.NONE],
            "ptx_only": [b["path"] for b in with_kernels if b["coverage"][key] == coverage.PTX_JIT],
        }
    return {"binaries": binaries, "gpus": summary}


def exit_code(result: Dict[str, Any]) -> int:
    verdicts = {entry["verdict"] for entry in result["gpus"].values()}
    if coverage.NONE in verdicts:
        return 2
    if coverage.PTX_JIT in verdicts or any(b.get("error") and b["error"] != NOT_A_BINARY
                                            for b in result["binaries"]):
        return 1
    if not result["gpus"] and any(b.get("cuda") for b in result["binaries"]):
        return NO_VERDICT
    return 0


def status(code: int) -> str:
    return {0: "ready", 1: "warnings", 2: "will-fail", NO_VERDICT: "no-gpu"}[code]
