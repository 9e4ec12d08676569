"""Benchmark: envdoctor's header-only fat-binary scanner against cuobjdump on one big library.

Both run as child processes in the same run, on the same file, after one warm-up each (so the
page cache is warm for both).  Prints wall time, the ratio, the peak RSS of each child and
whether the per-arch SASS/PTX counts agree.  Downloads nothing.
"""

from __future__ import annotations

import argparse
import compileall
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Dict, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EPILOG = """\
Getting a large CUDA library (kept outside the repository):
  pip download torch==2.9.0 --no-deps -d /tmp/torchwheel      # any CUDA build of torch on Linux
  unzip -j /tmp/torchwheel/torch-*.whl torch/lib/libtorch_cuda.so -d /tmp/torchlib
  python bench/scan_speed.py /tmp/torchlib/libtorch_cuda.so

cuobjdump: from a CUDA toolkit, or `pip install nvidia-cuda-cuobjdump` (found automatically under
site-packages/nvidia/*/bin/cuobjdump).

Targets: scanner >= 200x faster than `cuobjdump --list-elf` + `--list-ptx`, scanner peak RSS < 64 MB.
"""

SCANNER = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
from envdoctor.probes.fatbin import scan_file
started = time.perf_counter()
scan = scan_file(sys.argv[2])
elapsed = time.perf_counter() - started
print(json.dumps({"scan": scan.to_dict(), "in_process_s": elapsed}))
"""


def find_cuobjdump() -> Optional[str]:
    found = shutil.which("cuobjdump")
    if found:
        return found
    for entry in sys.path:
        for candidate in sorted(glob.glob(os.path.join(entry, "nvidia", "*", "bin", "cuobjdump"))):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def run_child(argv: List[str]) -> Tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes, stdout) of one child process, measured with wait4."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = (
            os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        )
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise SystemExit(f"{argv[0]} exited with {child.returncode}")
    return wall, usage.ru_maxrss * 1024, text  # ru_maxrss is in KiB on Linux


def cuobjdump_counts(elf_listing: str, ptx_listing: str) -> Dict[str, Dict[str, int]]:
    return {
        "sass": dict(Counter(re.findall(r"^ELF file +\d+: .*\.(sm_\w+)\.cubin$", elf_listing, re.M))),
        "ptx": dict(Counter(re.findall(r"^PTX file +\d+: .*\.(sm_\w+)\.ptx$", ptx_listing, re.M))),
    }


def scanner_counts(scan: dict) -> Dict[str, Dict[str, int]]:
    # The scanner names SASS as --list-elf does (family "f" dropped), PTX as --list-ptx does.
    return {"sass": dict(scan["sass"]), "ptx": dict(scan["ptx"])}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("library", help="a large CUDA shared library, e.g. libtorch_cuda.so")
    parser.add_argument("--cuobjdump", help="path of cuobjdump (default: PATH, then the pip wheel)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3; median)")
    args = parser.parse_args(argv)
    if not hasattr(os, "wait4"):
        parser.error("needs os.wait4 (Linux or macOS)")
    cuobjdump = args.cuobjdump or find_cuobjdump()
    if not cuobjdump:
        parser.error("cuobjdump not found; pass --cuobjdump")
    library = os.path.abspath(args.library)

    # Byte-compile the package first, as installing it would (PYTHONDONTWRITEBYTECODE or a
    # read-only checkout would otherwise make every child compile the scanner from source).
    compileall.compile_dir(os.path.join(REPO, "envdoctor"), quiet=1)
    scanner_argv = [sys.executable, "-c", SCANNER, REPO, library]
    # The same without site-packages start-up hooks (.pth files): the scanner needs only the stdlib.
    bare_argv = [sys.executable, "-S", "-c", SCANNER, REPO, library]
    elf_argv = [cuobjdump, "--list-elf", library]
    ptx_argv = [cuobjdump, "--list-ptx", library]

    scanner_runs, bare_runs, cuobjdump_runs = [], [], []
    for index in range(args.repeat + 1):  # round 0 warms the page cache and is not counted
        for _ in range(3):  # the scanner is cheap: three children a round for a steadier median
            s_wall, s_rss, s_out = run_child(scanner_argv)
            b_wall, b_rss, b_out = run_child(bare_argv)
            if index:
                scanner_runs.append((s_wall, s_rss, json.loads(s_out)))
                bare_runs.append((b_wall, b_rss, json.loads(b_out)))
        e_wall, e_rss, e_out = run_child(elf_argv)
        p_wall, p_rss, p_out = run_child(ptx_argv)
        if index:
            cuobjdump_runs.append((e_wall + p_wall, max(e_rss, p_rss), e_out, p_out))

    def summary(runs: list) -> Tuple[float, float, int]:
        wall = statistics.median(run[0] for run in runs)
        inner = statistics.median(run[2]["in_process_s"] for run in runs)
        return wall, inner, max(run[1] for run in runs)

    scanner_wall, scanner_inner, scanner_rss = summary(scanner_runs)
    bare_wall, _bare_inner, bare_rss = summary(bare_runs)
    cuobjdump_wall = statistics.median(run[0] for run in cuobjdump_runs)
    cuobjdump_rss = max(run[1] for run in cuobjdump_runs)
    scan = scanner_runs[-1][2]["scan"]
    mine = scanner_counts(scan)
    theirs = cuobjdump_counts(cuobjdump_runs[-1][2], cuobjdump_runs[-1][3])
    same = mine == theirs and all(run[2]["scan"] == scan for run in scanner_runs + bare_runs)
    ratio = cuobjdump_wall / scanner_wall
    size = os.path.getsize(library)

    print(f"library:    {library} ({size / 1e6:.1f} MB), python {sys.version.split()[0]}")
    print(f"entries:    {scan['entries']} (scanner error: {scan['error']})")
    print(
        f"cuobjdump:  {cuobjdump_wall * 1000:9.1f} ms wall (--list-elf + --list-ptx, median), "
        f"peak RSS {cuobjdump_rss / 2**20:7.1f} MiB"
    )
    print(
        f"scanner:    {scanner_wall * 1000:9.1f} ms wall (python -c, interpreter start included), "
        f"peak RSS {scanner_rss / 2**20:7.1f} MiB"
    )
    print(
        f"            {bare_wall * 1000:9.1f} ms wall (python -S -c, no site hooks), "
        f"peak RSS {bare_rss / 2**20:7.1f} MiB"
    )
    print(f"            {scanner_inner * 1000:9.1f} ms inside scan_file")
    print(
        f"ratio:      {ratio:9.1f}x (python -c), {cuobjdump_wall / bare_wall:.1f}x (python -S -c), "
        f"{cuobjdump_wall / scanner_inner:.0f}x against scan_file alone"
    )
    print(f"counts identical: {'yes' if same else 'NO'}")
    if mine != theirs:
        for kind in ("sass", "ptx"):
            for arch in sorted(set(mine[kind]) | set(theirs[kind])):
                if mine[kind].get(arch) != theirs[kind].get(arch):
                    print(
                        f"  {kind} {arch}: scanner {mine[kind].get(arch)} cuobjdump {theirs[kind].get(arch)}"
                    )
    print(f"sass: {scan['sass']}")
    print(f"ptx:  {scan['ptx']}")
    met = ratio >= 200 and scanner_rss < 64 * 2**20 and same
    print(f"targets (>=200x with python -c, <64 MiB, identical): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
