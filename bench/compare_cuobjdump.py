"""Compare `envdoctor scan` with `cuobjdump --list-elf/--list-ptx` on every CUDA library in folders.

    python bench/compare_cuobjdump.py /path/to/site-packages/torch/lib [--cuobjdump PATH]

Prints one line per library (entries, agree/DIFFER) and a total; exits 1 on any difference.
Only the registered fat binary is compared: embedded containers are beyond what cuobjdump lists.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scan_speed import cuobjdump_counts, find_cuobjdump, scanner_counts  # noqa: E402  (bench/, this script's folder)

from envdoctor.probes.fatbin import scan_paths  # noqa: E402


def listing(cuobjdump: str, option: str, path: str) -> str:
    return subprocess.run([cuobjdump, option, path], capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--cuobjdump", default=find_cuobjdump() or "/usr/local/cuda/bin/cuobjdump")
    args = parser.parse_args()
    differences = 0
    checked = 0
    for scan in scan_paths(args.paths):
        if not scan.has_cuda:
            continue
        checked += 1
        theirs = cuobjdump_counts(listing(args.cuobjdump, "--list-elf", scan.path),
                                  listing(args.cuobjdump, "--list-ptx", scan.path))
        elf, ptx = theirs["sass"], theirs["ptx"]
        # cuobjdump lists the registered fat binary only, and drops the family "f" of SASS names.
        same = theirs == scanner_counts(scan.to_dict())
        differences += not same
        print(f"{'agree ' if same else 'DIFFER'} {os.path.basename(scan.path)}: {scan.entries} entries, "
              f"SASS {sum(scan.sass.values())} in {len(scan.sass)} archs, PTX {sum(scan.ptx.values())}")
        if not same:
            print(f"   scanner SASS {scan.sass} PTX {scan.ptx}\n   cuobjdump SASS {elf} PTX {ptx}")
    print(f"{checked} CUDA libraries compared, {differences} differ")
    return 1 if differences or not checked else 0


if __name__ == "__main__":
    raise SystemExit(main())
