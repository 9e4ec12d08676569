"""Benchmark: envdoctor's fat-binary scanner on one big library, in one run:

* before / after: the registered-only scan (what the scanner did before it searched data
  sections, kept as ``scan_file(path, embedded=False)``) against the full scan (registered +
  the bounded search for embedded containers): wall time and peak RSS of each, as ratios;
* against cuobjdump (``--list-elf`` + ``--list-ptx``), which sees the registered fat binary only.

Everything runs as child processes in the same run, on the same file, after one warm-up round
(so the page cache is warm for all).  Downloads nothing: the library is a path, or is unpacked
from a wheel already in the cache (``--wheel``; default: torch 2.14.1's libtorch_cuda.so from
$ENVDOCTOR_CORPUS_WHEELS, the wheel cache tools/make_skeleton.py uses).
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

Targets: scanner >= 200x faster than `cuobjdump --list-elf` + `--list-ptx`, scanner peak RSS < 64 MB;
the full scan within 4x the registered-only one in wall time (interpreter start included) and
within 1.25x its peak RSS.
"""

SCANNER = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
from envdoctor.probes.fatbin import scan_file
started = time.perf_counter()
scan = scan_file(sys.argv[2], embedded=sys.argv[3] == "full")
elapsed = time.perf_counter() - started
print(json.dumps({"scan": scan.to_dict(), "in_process_s": elapsed}))
"""
DEFAULT_WHEEL = "torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl"


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


def list_elf_name(arch: str) -> str:
    """--list-elf drops the family "f" of SASS (sm_103f is listed as sm_103); the scanner keeps it."""
    return arch[:-1] if arch.endswith("f") else arch


def scanner_counts(scan: dict) -> Dict[str, Dict[str, int]]:
    """The registered counts, SASS named as --list-elf names it, PTX as --list-ptx does."""
    sass: Counter = Counter()
    for arch, count in scan["sass"].items():
        sass[list_elf_name(arch)] += count
    return {"sass": dict(sass), "ptx": dict(scan["ptx"])}


def unpack_from_wheel(wheel: str, member: str, folder: str) -> str:
    import zipfile

    target = os.path.join(folder, os.path.basename(member))
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    return target


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("library", nargs="?", help="a large CUDA shared library (default: see --wheel)")
    parser.add_argument("--wheel", help=f"unpack --member from this wheel (default: {DEFAULT_WHEEL} in the cache)")
    parser.add_argument("--member", default="torch/lib/libtorch_cuda.so", help="library inside the wheel")
    parser.add_argument("--cuobjdump", help="path of cuobjdump (default: PATH, then the pip wheel)")
    parser.add_argument("--no-cuobjdump", action="store_true", help="compare the two scanner modes only")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (default 3; median)")
    args = parser.parse_args(argv)
    if not hasattr(os, "wait4"):
        parser.error("needs os.wait4 (Linux or macOS)")
    cuobjdump = None if args.no_cuobjdump else (args.cuobjdump or find_cuobjdump())
    if not args.no_cuobjdump and not cuobjdump:
        parser.error("cuobjdump not found; pass --cuobjdump or --no-cuobjdump")
    with tempfile.TemporaryDirectory(prefix="scan-speed-") as folder:
        if args.library:
            library = os.path.abspath(args.library)
        else:
            wheels = os.environ.get("ENVDOCTOR_CORPUS_WHEELS", "/work/corpus-wheels")
            wheel = args.wheel or os.path.join(wheels, DEFAULT_WHEEL)
            if not os.path.isfile(wheel):
                parser.error(f"{wheel} not found: give a library, or --wheel")
            library = unpack_from_wheel(wheel, args.member, folder)
        return measure(library, cuobjdump, args.repeat)


def measure(library: str, cuobjdump: Optional[str], repeat: int) -> int:
    # Byte-compile the package first, as installing it would (PYTHONDONTWRITEBYTECODE or a
    # read-only checkout would otherwise make every child compile the scanner from source).
    compileall.compile_dir(os.path.join(REPO, "envdoctor"), quiet=1)
    modes = {
        # "before": the registered fat binaries only, what the scanner read before the search.
        "registered": [sys.executable, "-c", SCANNER, REPO, library, "registered"],
        "full": [sys.executable, "-c", SCANNER, REPO, library, "full"],
        # The same without site-packages start-up hooks (.pth files): the scanner needs only the stdlib.
        "full -S": [sys.executable, "-S", "-c", SCANNER, REPO, library, "full"],
    }
    runs: Dict[str, list] = {mode: [] for mode in modes}
    cuobjdump_runs = []
    for index in range(repeat + 1):  # round 0 warms the page cache and is not counted
        for _ in range(3):  # the scanner is cheap: three children a round for a steadier median
            for mode, argv in modes.items():  # interleaved, so drift hits every mode alike
                wall, rss, out = run_child(argv)
                if index:
                    runs[mode].append((wall, rss, json.loads(out)))
        if cuobjdump:
            e_wall, e_rss, e_out = run_child([cuobjdump, "--list-elf", library])
            p_wall, p_rss, p_out = run_child([cuobjdump, "--list-ptx", library])
            if index:
                cuobjdump_runs.append((e_wall + p_wall, max(e_rss, p_rss), e_out, p_out))

    def summary(mode: str) -> Tuple[float, float, int]:
        wall = statistics.median(run[0] for run in runs[mode])
        inner = statistics.median(run[2]["in_process_s"] for run in runs[mode])
        return wall, inner, max(run[1] for run in runs[mode])

    before_wall, before_inner, before_rss = summary("registered")
    after_wall, after_inner, after_rss = summary("full")
    bare_wall, _bare_inner, bare_rss = summary("full -S")
    scan = runs["full"][-1][2]["scan"]
    registered = runs["registered"][-1][2]["scan"]
    stable = all(run[2]["scan"] == scan for mode in ("full", "full -S") for run in runs[mode])
    stable = stable and all(run[2]["scan"] == registered for run in runs["registered"])
    same_registered = scanner_counts(scan) == scanner_counts(registered)
    size = os.path.getsize(library)

    print(f"library:    {library} ({size / 1e6:.1f} MB), python {sys.version.split()[0]}")
    print(f"registered: {scan['entries']} entries; embedded: {scan['embedded_entries']} entries in "
          f"{scan['embedded_containers']} containers (scanner error: {scan['error']})")
    print(f"before (registered only): {before_wall * 1000:8.1f} ms wall, {before_inner * 1000:7.1f} ms in scan_file, "
          f"peak RSS {before_rss / 2**20:6.1f} MiB")
    print(f"after  (full search):     {after_wall * 1000:8.1f} ms wall, {after_inner * 1000:7.1f} ms in scan_file, "
          f"peak RSS {after_rss / 2**20:6.1f} MiB")
    print(f"          (python -S):    {bare_wall * 1000:8.1f} ms wall, peak RSS {bare_rss / 2**20:6.1f} MiB")
    wall_ratio = after_wall / before_wall
    rss_ratio = after_rss / before_rss
    print(f"after/before: {wall_ratio:.2f}x wall, {after_inner / before_inner:.2f}x inside scan_file, "
          f"{rss_ratio:.2f}x peak RSS")
    met = wall_ratio <= 4 and rss_ratio <= 1.25 and stable and same_registered
    if cuobjdump:
        cuobjdump_wall = statistics.median(run[0] for run in cuobjdump_runs)
        cuobjdump_rss = max(run[1] for run in cuobjdump_runs)
        theirs = cuobjdump_counts(cuobjdump_runs[-1][2], cuobjdump_runs[-1][3])
        mine = scanner_counts(scan)
        ratio = cuobjdump_wall / after_wall
        print(f"cuobjdump:                {cuobjdump_wall * 1000:8.1f} ms wall (--list-elf + --list-ptx), "
              f"peak RSS {cuobjdump_rss / 2**20:6.1f} MiB")
        print(f"cuobjdump/full scan: {ratio:.1f}x (python -c), {cuobjdump_wall / bare_wall:.1f}x (python -S -c), "
              f"{cuobjdump_wall / after_inner:.0f}x against scan_file alone")
        print(f"registered counts identical to cuobjdump: {'yes' if mine == theirs else 'NO'}")
        if mine != theirs:
            for kind in ("sass", "ptx"):
                for arch in sorted(set(mine[kind]) | set(theirs[kind])):
                    if mine[kind].get(arch) != theirs[kind].get(arch):
                        print(f"  {kind} {arch}: scanner {mine[kind].get(arch)} cuobjdump {theirs[kind].get(arch)}")
        met = met and ratio >= 200 and after_rss < 64 * 2**20 and mine == theirs
    print(f"sass: {scan['sass']}")
    print(f"ptx:  {scan['ptx']}")
    if scan["embedded_entries"]:
        print(f"embedded sass: {scan['embedded_sass']}")
        print(f"embedded ptx:  {scan['embedded_ptx']}")
    print(f"results stable across runs and modes: {'yes' if stable and same_registered else 'NO'}")
    print(f"targets: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
