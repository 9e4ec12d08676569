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
step "doctor (+ a sm_75-only CUDA library pointed at by the extension smoke test)"
bash tests/gpu/build_sm75_extension.sh /tmp/envdoctor-ext
python3 -m envdoctor doctor --python "$PY" --extension /tmp/envdoctor-ext/libenvdoctor_sm75.so -v; echo "exit=$?"
python3 -m envdoctor doctor --python "$PY" --json > "$OUTDIR/doctor.json"; echo "exit=$?"
python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(json.dumps(e.get('recommendation'), ensure_ascii=False)[:1500])" "$OUTDIR/doctor.json"
step "explain the extension's error text"
printf 'Traceback (most recent call last):\n  File "x.py", line 3, in <module>\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n' | python3 -m envdoctor explain - --python "$PY"; echo "exit=$?"
step "configure: real upstream sv.py/eres2net with --v2pro-sv cpu on the real GPU"
[ -d .devicework/gsv-up ] && python3 -m tests.gptsovits.gpu_sv_check .devicework/gsv-up --python "$PY" --device cuda; echo "exit=$?"
step "report --doctor"
python3 -m envdoctor report --doctor --python "$PY" -o "$OUTDIR/report.zip"; echo "exit=$?"
python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('report.md'))" "$OUTDIR/report.zip" "$OUTDIR/report.md"
step "GPU tests"
ENVDOCTOR_GPU_PYTHON="$PY" ENVDOCTOR_TEST_EXTENSION_DIR=/tmp/envdoctor-ext python3 -m pytest -q -rs -s -m gpu \
  -p no:cacheprovider tests/gpu tests/report/test_report_gpu.py tests/upgrade/test_upgrade_gpu.py 2>&1 | tail -60
