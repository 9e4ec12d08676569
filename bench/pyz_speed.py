"""The zipapp against the installed tool: a computed `check` (ENVDOCTOR_NO_REPLAY=1), same interpreter,
same runtime, same caches, alternately, in one run. Prints medians and the ratio; target <= 1.2x.

    python bench/pyz_speed.py                                   # a demo bundle on a simulated GPU (any machine)
    python bench/pyz_speed.py --python /path/to/runtime/python  # a real runtime on a real GPU (live probe cached)

The pyz is built offline from this interpreter's packages (tools/build_pyz.py --from-installed) unless
--pyz names one. Its first start unpacks it into the cache; that one-time cost is printed separately and
kept out of the medians, as the installed tool's `pip install` is. "Installed" is envdoctor imported
from this checkout (PYTHONPATH), with its __pycache__, as an editable install runs it. A third series
runs the pyz from the zip itself (ENVDOCTOR_PYZ_IN_ZIP=1), as every start did before the unpacking.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(argv: List[str], env: Dict[str, str]) -> Tuple[float, float]:
    """(wall seconds, CPU seconds of the child): on a shared machine the CPU time is the steadier figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1, 2):
        raise SystemExit(f"{argv[:4]} failed ({result.returncode}): {result.stderr.decode()[-800:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def line(label: str, samples: List[Tuple[float, float]]) -> Tuple[float, float]:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    print(f"{label} median: wall {wall * 1000:.0f} ms (min {min(s[0] for s in samples) * 1000:.0f} ms), "
          f"CPU {cpu * 1000:.0f} ms")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="a real runtime's interpreter (default: a demo bundle, simulated GPU)")
    parser.add_argument("--pyz", help="an envdoctor.pyz to time (default: build one from this interpreter)")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="envdoctor-pyz-bench-") as work_dir:
        work = Path(work_dir)
        pyz = Path(args.pyz) if args.pyz else work / "envdoctor.pyz"
        if not args.pyz:
            subprocess.run([sys.executable, str(REPO / "tools" / "build_pyz.py"), "--from-installed", "-o", str(pyz)],
                           check=True, stdout=subprocess.DEVNULL)
        base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        base.update(ENVDOCTOR_NO_REPLAY="1", ENVDOCTOR_CACHE_DIR=str(work / "cache"))
        if args.python:
            target = ["--python", args.python]
        else:
            from envdoctor.demo import SCENARIOS, write_bundle

            scenario = SCENARIOS["rtx5060ti-cu124"]
            write_bundle(str(work / "bundle"), scenario)
            target = ["--root", str(work / "bundle"), "--no-live"]
            base.update(ENVDOCTOR_GPUS=f"{scenario.gpu_name}@{scenario.cc[0]}.{scenario.cc[1]}",
                        ENVDOCTOR_DRIVER=f"{scenario.driver}@{scenario.driver_cuda}")
        installed_env = dict(base, PYTHONPATH=str(REPO))
        installed = [sys.executable, "-m", "envdoctor", "check", *target]
        zipped = [sys.executable, str(pyz), "check", *target]

        first = timed(zipped, base)  # unpacks into the cache (once per pyz build)
        timed(installed, installed_env)  # warm-up: envdoctor's caches, page cache, __pycache__
        timed(zipped, base)
        in_zip_env = dict(base, ENVDOCTOR_PYZ_IN_ZIP="1")  # the pyz as it ran before: every module from the zip
        ours, theirs, in_zip = [], [], []
        for _ in range(args.runs):
            theirs.append(timed(installed, installed_env))
            ours.append(timed(zipped, base))
            in_zip.append(timed(zipped, in_zip_env))
    print(f"python: {sys.executable} ({sys.version.split()[0]}), runs: {args.runs}, "
          f"target: {'runtime ' + args.python if args.python else 'demo bundle, simulated GPU'}")
    print(f"pyz first start (unpack, once): {first[0] * 1000:.0f} ms")
    installed_wall, installed_cpu = line("installed check (computed)", theirs)
    pyz_wall, pyz_cpu = line("pyz check (computed)      ", ours)
    zip_wall, _zip_cpu = line("pyz run from the zip      ", in_zip)
    ratio = pyz_wall / installed_wall
    print(f"ratio pyz/installed: wall {ratio:.2f}x, CPU {pyz_cpu / installed_cpu:.2f}x "
          f"(target <= 1.2x): {'PASS' if ratio <= 1.2 else 'ABOVE TARGET'}; "
          f"from the zip (before): {zip_wall / installed_wall:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
