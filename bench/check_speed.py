"""Warm `envdoctor check` against `import torch; torch.cuda.get_arch_list()` on the same runtime.

Both are run as fresh processes, alternately, N times after one warm-up each (the warm-up fills
envdoctor's caches: live probe, matrix, fat-binary scan). Prints medians and the ratio; target >= 15x.

    python bench/check_speed.py --python /path/to/runtime/python [--runs 7] [--no-live]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parent.parent


def timed(argv: List[str], env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1, 2):
        raise SystemExit(f"{argv[:4]} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the runtime's interpreter (has torch)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="time `check --json` instead of the terminal view")
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    check = [sys.executable, "-m", "envdoctor", "check", "--python", args.python] + (["--json"] if args.json else [])
    baseline = [args.python, "-c", "import torch; torch.cuda.get_arch_list()"]
    timed(check, env)  # warm-up: fills the caches a launcher's second start would find
    timed(baseline, env)  # warm-up: page cache for torch's libraries
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(timed(check, env))
        theirs.append(timed(baseline, env))
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"envdoctor check (warm) median: {ours_median * 1000:.0f} ms  (min {min(ours) * 1000:.0f} ms)")
    print(f"import torch + get_arch_list:  {theirs_median * 1000:.0f} ms  (min {min(theirs) * 1000:.0f} ms)")
    ratio = theirs_median / ours_median
    print(f"ratio: {ratio:.1f}x faster (target >= 15x): {'PASS' if ratio >= 15 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
