"""On a real GPU: the scanner's prediction must meet reality.

A tiny CUDA library is built three ways with the real nvcc and launched on the real GPU:
SASS for sm_75 only (must fail with "no kernel image" on a newer GPU, predicted "none"), the
same plus compute_75 PTX (must run via the driver's JIT, predicted "ptx-jit"), and SASS for the
GPU's own arch (must run, predicted "native"). Each launch happens in a child process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor.diagnose import coverage
from envdoctor.probes.fatbin import scan_file
from envdoctor.probes.gpus import detect_gpus

pytestmark = pytest.mark.gpu  # skipped without a GPU by tests/conftest.py

SOURCE = r"""
#include <cstdio>
#include <cuda_runtime.h>
__global__ void add_one(int *x) { x[threadIdx.x] += 1; }
extern "C" int envdoctor_probe_launch(char *message, int size) {
    int *d = 0;
    cudaError_t e = cudaMalloc(&d, 32 * sizeof(int));
    if (e == cudaSuccess) {
        add_one<<<1, 32>>>(d);
        e = cudaGetLastError();
        if (e == cudaSuccess) e = cudaDeviceSynchronize();
    }
    snprintf(message, size, "%s", cudaGetErrorString(e));
    if (d) cudaFree(d);
    return (int)e;
}
"""

LAUNCH = (
    "import ctypes, sys\n"
    "lib = ctypes.CDLL(sys.argv[1])\n"
    "buf = ctypes.create_string_buffer(256)\n"
    "code = lib.envdoctor_probe_launch(buf, 256)\n"
    "print(code, buf.value.decode())\n"
)


def _nvcc() -> str:
    path = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(path).exists():
        pytest.skip("nvcc is not installed on this GPU machine")
    return path


def _build(tmp_path: Path, name: str, gencode: list) -> Path:
    source = tmp_path / "probe.cu"
    source.write_text(SOURCE)
    out = tmp_path / f"{name}.so"
    subprocess.run([_nvcc(), "-shared", "-Xcompiler", "-fPIC", *gencode, "-o", str(out), str(source)], check=True)
    return out


def _launch(library: Path) -> tuple:
    result = subprocess.run([sys.executable, "-c", LAUNCH, str(library)], capture_output=True, text=True, timeout=120)
    code, _, message = result.stdout.strip().partition(" ")
    return int(code), message


def test_prediction_meets_the_gpu(tmp_path: Path) -> None:
    gpu = detect_gpus().gpus[0]
    cc = gpu.compute_capability
    own = f"{cc[0]}{cc[1]}"
    variants = {
        "sm75_sass_only": (["-gencode", "arch=compute_75,code=sm_75"], coverage.NONE),
        "sm75_plus_ptx": (["-gencode", "arch=compute_75,code=sm_75", "-gencode", "arch=compute_75,code=compute_75"],
                          coverage.PTX_JIT),
        f"sm{own}_native": ([f"-gencode=arch=compute_{own},code=sm_{own}"], coverage.NATIVE),
    }
    for name, (gencode, expected) in variants.items():
        library = _build(tmp_path, name, gencode)
        scan = scan_file(str(library))
        predicted = coverage.verdict(cc, scan.sass, scan.ptx)
        code, message = _launch(library)
        print(f"{gpu.name} sm_{own} {name}: predicted {predicted}; launch -> {code} {message!r}; "
              f"sass={scan.sass} ptx={scan.ptx}")
        assert predicted == expected
        if expected == coverage.NONE:
            assert "no kernel image" in message
        else:
            assert code == 0, message
