#!/usr/bin/env bash
# Builds the two libraries tests/gpu/test_gpu_smoke.py needs, into DIR (default /tmp/envdoctor-ext):
#   libenvdoctor_sm75.so    SASS for sm_75 only, no PTX: must fail with "no kernel image" on newer GPUs
#   libenvdoctor_native.so  SASS + PTX for this machine's GPU (nvidia-smi's compute_cap): must pass
# nvcc is taken from $NVCC, PATH, /usr/local/cuda/bin, or a pip-installed nvidia-cuda-nvcc in $VENV.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-/tmp/envdoctor-ext}"
mkdir -p "$out"
nvcc="${NVCC:-}"
if [ -z "$nvcc" ]; then
  for candidate in "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc \
      "${VENV:-/opt/torch/.venv}"/lib/python3*/site-packages/nvidia/cuda_nvcc/bin/nvcc \
      "${VENV:-/opt/torch/.venv}"/lib/python3*/site-packages/nvidia/cu*/bin/nvcc; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then nvcc="$candidate"; break; fi
  done
fi
if [ -z "$nvcc" ]; then echo "nvcc not found: set NVCC=/path/to/nvcc" >&2; exit 2; fi
"$nvcc" --version | tail -n 2
"$nvcc" -shared -Xcompiler -fPIC -O2 -gencode arch=compute_75,code=sm_75 \
  -o "$out/libenvdoctor_sm75.so" "$here/smoke_kernel.cu"
cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '. ')"
"$nvcc" -shared -Xcompiler -fPIC -O2 -gencode "arch=compute_${cc},code=[sm_${cc},compute_${cc}]" \
  -o "$out/libenvdoctor_native.so" "$here/smoke_kernel.cu"
if command -v cuobjdump >/dev/null; then cuobjdump --list-elf "$out/libenvdoctor_sm75.so"; fi
echo "built $out/libenvdoctor_sm75.so (sm_75 only) and $out/libenvdoctor_native.so (sm_${cc})"
