#!/usr/bin/env bash
# Everything envdoctor verifies on a real NVIDIA machine, in one go (run from the repo root):
#   tools/device_verify.sh RUNTIME_PYTHON OUTPUT_DIR
# RUNTIME_PYTHON: an interpreter with a real CUDA torch; envdoctor itself runs under python3.
set -uo pipefail
PY=${1:?runtime python}; OUTDIR=${2:?output dir}; mkdir -p "$OUTDIR"
export ENVDOCTOR_CACHE_DIR=${ENVDOCTOR_CACHE_DIR:-/tmp/envdoctor-verify-cache} PYTHONUNBUFFERED=1
TORCHLIB=$("$PY" -I -c "import os, importlib.util as u; print(os.path.join(os.path.dirname(u.find_spec('torch').origin), 'lib'))")
step() { echo; echo "=== $*"; }
step "check (cold: runs the live probe)"; python3 -m envdoctor check --python "$PY" --debug; echo "exit=$?"
step "check --json (warm)"; python3 -m envdoctor check --python "$PY" --json > "$OUTDIR/check.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['verdict'], [(g['name'], g['compute_capability'], g['coverage']) for g in e['gpus']], e['facts']['gpu']['driver'], e['facts']['live']['arch_list'], e['timings_ms'])" "$OUTDIR/check.json"
step "check --lang zh_CN (warm)"; python3 -m envdoctor check --python "$PY" --lang zh_CN; echo "exit=$?"
step "scan torch/lib"; python3 -m envdoctor scan "$TORCHLIB" --json > "$OUTDIR/scan.json"; echo "exit=$?"
step "scanner vs cuobjdump on every CUDA library of torch/lib"; python3 bench/compare_cuobjdump.py "$TORCHLIB"
step "bench: scan speed"; python3 bench/scan_speed.py "$TORCHLIB/libtorch_cuda.so" --repeat 3
step "bench: check speed"; python3 bench/check_speed.py --python "$PY" --runs 7
step "NVML init alone"; python3 -c "import time; t=time.perf_counter(); import pynvml; pynvml.nvmlInit(); n=pynvml.nvmlDeviceGetCount(); pynvml.nvmlShutdown(); print(f'import+init+count+shutdown {1000*(time.perf_counter()-t):.1f} ms')"
step "GPU tests"; python3 -m pytest -q -rs -s -m gpu -p no:cacheprovider tests 2>&1 | tail -40
