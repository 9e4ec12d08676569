#!/usr/bin/env bash
# The GPU-machine checks of this round (issues 23-28), in one go, from the repo root:
#   tools/device_round.sh RUNTIME_PYTHON OUTPUT_DIR
# RUNTIME_PYTHON: an interpreter with a real CUDA torch; envdoctor itself runs under python3 from this checkout.
set -uo pipefail
PY=${1:?runtime python}; OUTDIR=${2:?output dir}; mkdir -p "$OUTDIR"
export ENVDOCTOR_CACHE_DIR=${ENVDOCTOR_CACHE_DIR:-/tmp/envdoctor-round-cache} PYTHONUNBUFFERED=1 COLUMNS=140
PREFIX=$(cd "$(dirname "$PY")/.." && pwd)
step() { echo; echo "=== $*"; }
brief() { python3 -c "import json,sys; e=json.load(open(sys.argv[1])); t=(e.get('facts') or {}).get('torch') or {}; print(e.get('verdict'), 'exit', e.get('exit_code'), 'nvrtc', t.get('nvrtc'), t.get('nvrtc_source'), [(f['code'], f['severity']) for f in e.get('findings', []) if f['severity']!='ok' or f['code'] in ('gpu-not-used','webui-gpu0-fp32')])" "$1"; }
step "nvidia-smi"; nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
step "check (cold, live probe)"; time python3 -m envdoctor check --python "$PY"; echo "exit=$?"
python3 -m envdoctor check --python "$PY" --json > "$OUTDIR/check.json"; echo "exit=$?"; brief "$OUTDIR/check.json"
step "check --launcher (replay)"; time python3 -m envdoctor check --launcher --python "$PY" >/dev/null; echo "exit=$?"
for gpus in 'NVIDIA GeForce GTX 1080@6.1@8192,NVIDIA GeForce RTX 3060@8.6@12288' 'NVIDIA GeForce GT 1030@6.1@2048' 'NVIDIA B300 SXM6 AC@10.3@262144' 'Tesla T4@7.5@15360'; do
  step "simulated [$gpus] on this real torch, driver 580.65.06@13.0, files only"
  ENVDOCTOR_GPUS="$gpus" ENVDOCTOR_DRIVER='580.65.06@13.0' ENVDOCTOR_NO_REPLAY=1 python3 -m envdoctor check --python "$PY" --no-live --json > "$OUTDIR/sim.json"; echo "exit=$?"; brief "$OUTDIR/sim.json"
done
step "doctor (real GPU: smoke tests run)"; time python3 -m envdoctor doctor --python "$PY" --json > "$OUTDIR/doctor.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['verdict'], [(s['test'], s['status'], s.get('reason')) for s in e['smoke']])" "$OUTDIR/doctor.json"
step "doctor on a simulated GPU (issue 23.6: no smoke test may run)"
ENVDOCTOR_GPUS='NVIDIA GeForce RTX 5060 Ti@12.0@16311' ENVDOCTOR_DRIVER='576.02@12.9' python3 -m envdoctor doctor --python "$PY" --json > "$OUTDIR/doctor-sim.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['verdict'], sorted({(s['status'], s.get('reason')) for s in e['smoke']}), e['recommendation']['upgrade_needed'])" "$OUTDIR/doctor-sim.json"
step "fix on this runtime (nothing to do expected)"; python3 -m envdoctor fix --root "$PREFIX" --json > "$OUTDIR/fix.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(e['status'], e['exit_code'])" "$OUTDIR/fix.json"
step "bench: check speed"; python3 bench/check_speed.py --python "$PY" --runs 5
step "bench: doctor speed"; python3 bench/doctor_speed.py --python "$PY" --runs 2 --cli
step "GPU tests"
bash tests/gpu/build_sm75_extension.sh /tmp/envdoctor-ext >/dev/null 2>&1 || echo "(extension build failed)"
ENVDOCTOR_GPU_PYTHON="$PY" ENVDOCTOR_TEST_EXTENSION_DIR=/tmp/envdoctor-ext python3 -m pytest -q -rs -m gpu -p no:cacheprovider tests/gpu tests/report/test_report_gpu.py tests/upgrade/test_upgrade_gpu.py 2>&1 | tail -25
