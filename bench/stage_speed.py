"""Benchmark: staging a realistic runtime vs a full copy, and rollback time.

Builds a runtime from real wheels (a venv whose site-packages holds torch and the nvidia-* CUDA
wheels, unpacked: several GB, tens of thousands of files), then measures in the same run:
  baseline  shutil.copytree of the runtime
  stage     envdoctor.upgrade.stage.stage_tree (reflinks / hard links where safe, copies otherwise)
  swap      the journaled swap that puts the stage in place
  rollback  envdoctor.upgrade.rollback.rollback (renames only)
and prints ratios. Targets: stage >= 10x faster than copytree where links work; rollback < 1 s.
copytree and staging alternate for --repeat rounds (default 3) in the same run, and the ratio is
reported per round with its minimum, median and maximum: on a shared machine one round says little.

  python bench/stage_speed.py [--wheel PATH ...] [--synthetic] [--repeat N] [--work DIR] [--keep]

Measured here (ext4, 2 cores shared; 21,066 files, 4.00 GB from 17 real wheels incl. torch 2.14.1
and nvidia-cudnn/cublas): single rounds gave 5.5x to 16.4x (issue 17: 5.5-14.7x; one earlier round
copytree 21.17 s / stage 1.29 s = 16.4x, 194 files / 3.6 MB copied); swap 0.001 s (atomic
exchange); rollback 0.018 s. Read the median of a --repeat run, not one round.
Without --wheel it uses the torch and nvidia-* wheels it finds in /opt/wheels, /opt/pypi-more/files,
/opt/pypi/files and /tmp/torchwheel; without any, a synthetic tree of the same shape.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from envdoctor.upgrade.fsutil import can_exchange, identity  # noqa: E402
from envdoctor.upgrade.journal import Journal, new_txid  # noqa: E402
from envdoctor.upgrade.layout import Layout  # noqa: E402
from envdoctor.upgrade.rollback import rollback  # noqa: E402
from envdoctor.upgrade.stage import stage_tree  # noqa: E402
from envdoctor.upgrade.swap import FORWARD, SwapSpec, drive  # noqa: E402

SEARCH = ("/opt/wheels", "/opt/pypi-more/files", "/opt/pypi/files", "/tmp/torchwheel")
PATTERNS = ("torch-*.whl", "nvidia_cudnn*.whl", "nvidia_cublas*.whl", "nvidia_cusparse-*.whl", "nvidia_cufft*.whl",
            "nvidia_nccl*.whl", "nvidia_cusolver*.whl", "nvidia_curand*.whl", "nvidia_cuda_nvrtc*.whl",
            "nvidia_nvjitlink*.whl", "numpy-*.whl", "scipy-*.whl", "sympy-*.whl", "networkx-*.whl",
            "transformers-*.whl", "pandas-*.whl", "matplotlib-*.whl")


def find_wheels() -> list:
    chosen = {}
    for pattern in PATTERNS:
        for folder in SEARCH:
            for path in sorted(glob.glob(os.path.join(folder, pattern))):
                project = os.path.basename(path).split("-")[0].lower()
                chosen.setdefault(project, path)  # one version per project, like a real runtime
    return list(chosen.values())


def build_runtime(runtime: str, wheels: list, synthetic_files: int) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", runtime], check=True)
    site = glob.glob(os.path.join(runtime, "lib", "python3*", "site-packages"))[0]
    if wheels:
        for path in wheels:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(site)
        return
    payload = os.urandom(1 << 20)
    for i in range(synthetic_files):
        folder = os.path.join(site, f"pkg{i // 500}", f"mod{(i // 50) % 10}")
        os.makedirs(folder, exist_ok=True)
        size = 200_000_000 if i % 5000 == 0 else (4096 if i % 3 else 60_000)
        with open(os.path.join(folder, f"f{i}.py"), "wb") as handle:
            while size > 0:
                handle.write(payload[: min(size, len(payload))])
                size -= len(payload)


def tree_size(root: str) -> tuple:
    files = total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                files += 1
                total += os.lstat(path).st_size
    return files, total


def drop_caches() -> None:
    """Best effort, so that the copy does not profit from the build's page cache more than staging."""
    try:
        subprocess.run(["sync"], check=False)
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
    except OSError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", action="append", default=[], help="a wheel to unpack into the runtime")
    parser.add_argument("--work", help="folder to work in, on the disk to measure (default: a new temp folder)")
    parser.add_argument("--synthetic-files", type=int, default=30000)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--synthetic", action="store_true", help="a synthetic tree even where real wheels exist")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of copytree vs stage (default 3)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="envdoctor-bench-")
    os.makedirs(work, exist_ok=True)
    layout = Layout(os.path.join(work, "bundle"))
    os.makedirs(layout.root, exist_ok=True)
    try:
        wheels = args.wheel or ([] if args.synthetic else find_wheels())
        t0 = time.monotonic()
        build_runtime(layout.runtime, wheels, args.synthetic_files)
        files, total = tree_size(layout.runtime)
        print(f"runtime: {files:,} files, {total / 1e9:.2f} GB from {len(wheels)} wheels "
              f"({'real wheels' if wheels else 'synthetic'}), built in {time.monotonic() - t0:.1f} s")

        ratios, copies, stages = [], [], []
        for round_ in range(max(args.repeat, 1)):
            drop_caches()
            copy_dir = os.path.join(work, "copytree")
            t0 = time.monotonic()
            shutil.copytree(layout.runtime, copy_dir, symlinks=True)
            copy_s = time.monotonic() - t0
            shutil.rmtree(copy_dir)

            drop_caches()
            txid = new_txid() + f"-{round_}"
            os.makedirs(layout.tx_dir(txid))
            t0 = time.monotonic()
            stats = stage_tree(layout.runtime, layout.stage(txid))
            stage_s = time.monotonic() - t0
            copies.append(copy_s)
            stages.append(stage_s)
            ratios.append(copy_s / stage_s if stage_s > 0 else float("inf"))
            print(f"round {round_ + 1}: copytree {copy_s:.2f} s, stage {stage_s:.2f} s = {ratios[-1]:.1f}x")
            if round_ < max(args.repeat, 1) - 1:
                shutil.rmtree(layout.tx_dir(txid))

        journal = Journal(layout)
        journal.append(txid, "begin", kind="upgrade")
        spec = SwapSpec(layout.runtime, layout.stage(txid), identity(layout.stage(txid)),  # type: ignore[arg-type]
                        layout.backup(txid), identity(layout.runtime))  # type: ignore[arg-type]
        exchange = can_exchange(layout.runtime, layout.stage(txid))
        journal.append(txid, "swap-begin", exchange=exchange, **spec.to_record())
        t0 = time.monotonic()
        drive(spec, FORWARD, journal, txid, exchange)
        swap_s = time.monotonic() - t0
        journal.append(txid, "committed")

        result = rollback(layout)
        print(f"copytree:  {sorted(copies)[len(copies) // 2]:8.2f} s (median of {len(copies)})")
        print(f"stage:     {sorted(stages)[len(stages) // 2]:8.2f} s  method={stats.method} linked={stats.linked:,} "
              f"copied={stats.copied:,} ({stats.bytes_written / 1e6:.1f} MB written)")
        print(f"swap:      {swap_s:8.3f} s  ({'atomic exchange' if exchange else 'two renames'})")
        print(f"rollback:  {result.seconds:8.3f} s")
        ordered = sorted(ratios)
        print(f"ratio copytree/stage: median {ordered[len(ordered) // 2]:.1f}x, min {ordered[0]:.1f}x, "
              f"max {ordered[-1]:.1f}x over {len(ordered)} rounds (target >= 10x where links work)")
        print(f"rollback under 1 s: {'yes' if result.seconds < 1.0 else 'NO'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
