"""doctor's smoke-test catalogue against `<runtime python> -c "import torch"`, in the same run.

Each run times, alternately: one `import torch` in a fresh runtime process (the baseline), and the
whole selected catalogue on the selected GPUs (one worker per GPU, as `envdoctor doctor` runs it).
The test bodies are what the tests themselves measured (their time in main(), less `import torch`);
the goal is catalogue <= 2 x (one import + the bodies of the slowest GPU). Prints medians and ratios.

    python bench/doctor_speed.py --python /path/to/runtime/python [--runs 3] [--gpu 0]
        [--only TESTS] [--skip TESTS] [--compare] [--cli]

--compare also times the catalogue with a fresh process per test (how doctor ran before workers);
--cli also times the whole commands `envdoctor doctor --json` and `envdoctor report --doctor`.
On a CPU-only torch the cuda test gates the rest: pass --skip cuda to run every torch test anyway
(each then imports torch and skips), which shows the import being paid once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from envdoctor.check.pipeline import gather_facts  # noqa: E402
from envdoctor.doctor.catalog import select  # noqa: E402
from envdoctor.doctor.results import SmokeResult  # noqa: E402
from envdoctor.doctor.session import run_smoke_tests  # noqa: E402
from envdoctor.probes.collect import CollectOptions  # noqa: E402


def timed(argv: List[str], env: Optional[dict] = None, codes: Sequence[int] = (0,)) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode not in codes:
        raise SystemExit(f"{' '.join(argv[:6])} failed ({result.returncode}): {result.stderr.decode()[-800:]}")
    return elapsed


def body_s(result: SmokeResult) -> float:
    """The test's own time in the worker, less its `import torch` (paid once per worker)."""
    timings = result.details.get("timings") or {}
    return max(0.0, float(timings.get("elapsed", 0.0)) - float(timings.get("import-torch", 0.0)))


def slowest_gpu_bodies(results: Sequence[SmokeResult]) -> float:
    per_gpu: Dict[Optional[int], float] = defaultdict(float)
    for result in results:
        per_gpu[result.gpu_index] += body_s(result)
    return max(per_gpu.values()) if per_gpu else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the runtime's interpreter (has torch)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gpu", type=int, action="append", help="GPU index (repeat; default: every GPU)")
    parser.add_argument("--only", action="append", metavar="TESTS")
    parser.add_argument("--skip", action="append", metavar="TESTS")
    parser.add_argument("--compare", action="store_true", help="also time one process per test (the old way)")
    parser.add_argument("--cli", action="store_true", help="also time `doctor --json` and `report --doctor`")
    args = parser.parse_args()
    tests = select(args.only, args.skip)
    facts = gather_facts(CollectOptions(python=args.python, live=True, scan=False), select=args.gpu)
    gpus = ", ".join(f"GPU {g.index} {g.name} (cc {g.cc_text})" for g in facts.gpu.gpus) or "no GPU"
    torch = facts.torch.version if facts.torch else "no torch"
    print(f"runtime: {args.python}  torch {torch}  {gpus}")
    print(f"tests: {', '.join(t.name for t in tests)}")
    baseline = [args.python, "-c", "import torch"]
    timed(baseline)  # warm-up: the page cache for torch's libraries
    run_smoke_tests(facts, tests)  # warm-up: caches (a first PTX JIT, the kernel cache) a second run finds
    imports: List[float] = []
    catalogue: List[float] = []
    bodies: List[float] = []
    fresh: List[float] = []
    results: List[SmokeResult] = []
    for _ in range(args.runs):
        imports.append(timed(baseline))
        started = time.perf_counter()
        results = run_smoke_tests(facts, tests)
        catalogue.append(time.perf_counter() - started)
        bodies.append(slowest_gpu_bodies(results))
        if args.compare:
            started = time.perf_counter()
            run_smoke_tests(facts, tests, reuse=False)
            fresh.append(time.perf_counter() - started)
    print("\nlast run, per test (duration includes the worker start and import for the first test of a worker):")
    for r in results:
        gpu = "-" if r.gpu_index is None else r.gpu_index
        print(f"  gpu {gpu}  {r.test:18} {r.status:8} {r.duration_s * 1000:8.0f} ms   body {body_s(r) * 1000:7.1f} ms")
    imp, cat, body = statistics.median(imports), statistics.median(catalogue), statistics.median(bodies)
    goal = 2 * (imp + body)
    print(f"\nimport torch (fresh process) median: {imp * 1000:8.0f} ms  (min {min(imports) * 1000:.0f})")
    print(f"test bodies (slowest GPU)    median: {body * 1000:8.0f} ms")
    print(f"catalogue, one worker per GPU median: {cat * 1000:7.0f} ms  (min {min(catalogue) * 1000:.0f})")
    print(f"catalogue / import torch: {cat / imp:.2f}x")
    ratio = cat / (imp + body)
    verdict = "PASS" if cat <= goal else "ABOVE GOAL"
    print(f"catalogue / (import + bodies): {ratio:.2f}x  (goal <= 2.00x, i.e. <= {goal * 1000:.0f} ms): {verdict}")
    if fresh:
        old = statistics.median(fresh)
        print(f"catalogue, one process per test median: {old * 1000:.0f} ms  -> workers are {old / cat:.1f}x faster")
    if args.cli:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        gpu_args = [a for g in (args.gpu or []) for a in ("--gpu", str(g))]
        doctor = [sys.executable, "-m", "envdoctor", "doctor", "--json", "--python", args.python] + gpu_args
        with tempfile.TemporaryDirectory() as tmp:
            report = [sys.executable, "-m", "envdoctor", "report", "--doctor", "--json", "--python", args.python,
                      "--output", str(Path(tmp) / "r.zip")] + gpu_args
            doctor_s = statistics.median(timed(doctor, env, (0, 1, 2)) for _ in range(args.runs))
            report_s = statistics.median(timed(report, env, (0, 1, 2)) for _ in range(args.runs))
        print(f"`envdoctor doctor --json` median: {doctor_s * 1000:.0f} ms  ({doctor_s / imp:.2f}x import torch)")
        print(f"`envdoctor report --doctor` median: {report_s * 1000:.0f} ms  ({report_s / imp:.2f}x import torch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
