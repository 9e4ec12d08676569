#!/usr/bin/env bash
# The GPU-machine checks of this round (issues 11, 12, 15, 18), in one go, from the repo root:
#   tools/device_round.sh RUNTIME_PYTHON OUTPUT_DIR
# RUNTIME_PYTHON: an interpreter with a real CUDA torch; envdoctor itself runs under python3 from this checkout.
set -uo pipefail
PY=${1:?runtime python}; OUTDIR=${2:?output dir}; mkdir -p "$OUTDIR"
export ENVDOCTOR_CACHE_DIR=${ENVDOCTOR_CACHE_DIR:-/tmp/envdoctor-round-cache} PYTHONUNBUFFERED=1
PREFIX=$(cd "$(dirname "$PY")/.." && pwd)
TORCHLIB=$("$PY" -I -c "import os, importlib.util as u; print(os.path.join(os.path.dirname(u.find_spec('torch').origin), 'lib'))")
step() { echo; echo "=== $*"; }
step "nvidia-smi"; nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
step "check (cold, live probe)"; time python3 -m envdoctor check --python "$PY"; echo "exit=$?"
python3 -m envdoctor check --python "$PY" --json > "$OUTDIR/check.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['verdict'], [(f['code'], f['severity']) for f in e['findings']])" "$OUTDIR/check.json"
for gpu in 'Tesla T4@7.5' 'NVIDIA GeForce RTX 2080 Ti@7.5' 'NVIDIA GeForce RTX 4060@8.9' 'NVIDIA GeForce RTX 5060 Ti@12.0' 'NVIDIA GeForce GTX 1080@6.1'; do
  step "simulated $gpu on this real torch, driver 580.65.06@13.0, files only"
  ENVDOCTOR_GPUS="$gpu" ENVDOCTOR_DRIVER='580.65.06@13.0' ENVDOCTOR_NO_REPLAY=1 python3 -m envdoctor check --python "$PY" --no-live --json > "$OUTDIR/sim.json"; echo "exit=$?"
  python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['verdict'], [(f['code'], f['severity']) for f in e['findings'] if f['severity']!='ok'])" "$OUTDIR/sim.json"
done
step "scan torch/lib and nvidia/*/lib"; python3 -m envdoctor scan "$TORCHLIB" "$(dirname "$(dirname "$TORCHLIB")")/nvidia" --cc 9.0; echo "exit=$?"
step "scanner vs cuobjdump on torch/lib"; python3 bench/compare_cuobjdump.py "$TORCHLIB"
step "bench: scan speed (registered-only vs full search)"; python3 bench/scan_speed.py "$TORCHLIB/libtorch_cuda.so" --repeat 2
step "bench: check speed"; python3 bench/check_speed.py --python "$PY" --runs 5
step "bench: doctor speed (one worker per GPU vs import torch)"
python3 bench/doctor_speed.py --python "$PY" --runs 2 --cli
step "doctor"; time python3 -m envdoctor doctor --python "$PY"; echo "exit=$?"
step "report --doctor"; time python3 -m envdoctor report --doctor --python "$PY" -o "$OUTDIR/report.zip"; echo "exit=$?"
step "fix on this runtime (nothing to do expected)"; python3 -m envdoctor fix --root "$PREFIX" --json > "$OUTDIR/fix.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['status'], e['exit_code'], [(s['name'], s['exit_code']) for s in e['steps']])" "$OUTDIR/fix.json"
step "bench: pyz vs installed (computed checks)"; python3 bench/pyz_speed.py --python "$PY" --runs 7
step "GPU tests"
bash tests/gpu/build_sm75_extension.sh /tmp/envdoctor-ext >/dev/null 2>&1 || echo "(extension build failed)"
ENVDOCTOR_GPU_PYTHON="$PY" ENVDOCTOR_TEST_EXTENSION_DIR=/tmp/envdoctor-ext python3 -m pytest -q -rs -m gpu -p no:cacheprovider tests/gpu tests/report/test_report_gpu.py tests/upgrade/test_upgrade_gpu.py 2>&1 | tail -40
