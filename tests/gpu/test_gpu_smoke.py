"""doctor on a real GPU (run by the lead on the GPU machine; skipped elsewhere).

  bash tests/gpu/build_sm75_extension.sh /tmp/envdoctor-ext
  ENVDOCTOR_GPU_PYTHON=/opt/torch/.venv/bin/python3 ENVDOCTOR_TEST_EXTENSION_DIR=/tmp/envdoctor-ext \
      python -m pytest tests/gpu -m gpu -v -rs

ENVDOCTOR_GPU_PYTHON is the runtime under test (a CUDA torch build that supports this GPU).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import get
from envdoctor.doctor.findings import tag_known_errors
from envdoctor.doctor.runner import run_one
from envdoctor.matrix.loader import load_matrix
from envdoctor.probes.gpus import detect_gpus
from envdoctor.probes.runner import SubprocessRunner
from envdoctor.probes.runtime import find_runtime

MATRIX = Path(__file__).resolve().parent.parent / "fixtures" / "doctor-matrix"
PYTHON = os.environ.get("ENVDOCTOR_GPU_PYTHON", "/opt/torch/.venv/bin/python3")
EXT_DIR = Path(os.environ.get("ENVDOCTOR_TEST_EXTENSION_DIR", "/tmp/envdoctor-ext"))

pytestmark = [
    pytest.mark.gpu,  # skipped without a GPU by tests/conftest.py
    pytest.mark.skipif(not Path(PYTHON).exists(), reason=f"no CUDA torch runtime at {PYTHON} (ENVDOCTOR_GPU_PYTHON)"),
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(MATRIX))
    for name in ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "CUDA_VISIBLE_DEVICES", "TORCH_CUDA_ARCH_LIST"):
        monkeypatch.delenv(name, raising=False)


def _library(name: str) -> Path:
    path = EXT_DIR / name
    if not path.exists():
        pytest.skip(f"{path} missing: run tests/gpu/build_sm75_extension.sh {EXT_DIR}")
    return path


def _extension(library: Path, env=None) -> m.SmokeResult:
    gpu = detect_gpus().gpus[0]
    result = run_one(get("extension"), find_runtime(python=PYTHON), gpu, SubprocessRunner(),
                     params={"library": str(library)}, env=env)
    return tag_known_errors([result], load_matrix(str(MATRIX)).known_errors)[0]


def test_doctor_passes_every_torch_test_on_a_supported_gpu(capsys) -> None:
    code = main(["doctor", "--json", "--python", PYTHON, "--gpu", "0"])
    out = json.loads(capsys.readouterr().out)
    print(json.dumps(out["smoke"], indent=1)[:6000])
    status = {s["test"]: s["status"] for s in out["smoke"]}
    for test in ("cuda", "elementwise", "matmul-fp32", "matmul-fp16", "conv1d-fp32", "conv1d-fp16",
                 "sdpa-efficient", "sdpa-default", "fft-fp32", "fft-fp16"):
        assert status[test] == "passed", (test, out["smoke"])
    rec = out["recommendation"]
    assert rec["fp16"]["value"] is True and rec["fp16"]["source"] == "smoke"
    assert rec["v2pro_sv"]["value"] == "on" and rec["upgrade_needed"]["value"] is False
    cc = detect_gpus().gpus[0].cc_text
    assert rec["arch_list"]["value"] == cc
    assert code in (0, 1), [f["code"] for f in out["findings"] if f["severity"] != "ok"]


def test_sm75_only_extension_reports_no_kernel_image() -> None:
    result = _extension(_library("libenvdoctor_sm75.so"))
    assert result.status == m.FAILED, result
    assert "no kernel image is available for execution on the device" in result.error
    assert result.known_error == "no-kernel-image"


def test_torch_cuda_arch_list_does_not_fix_a_prebuilt_binary() -> None:
    env = dict(os.environ, TORCH_CUDA_ARCH_LIST=detect_gpus().gpus[0].cc_text)
    result = _extension(_library("libenvdoctor_sm75.so"), env=env)
    assert result.status == m.FAILED and "no kernel image" in result.error
    assert result.details["TORCH_CUDA_ARCH_LIST"] == env["TORCH_CUDA_ARCH_LIST"]


def test_native_extension_passes() -> None:
    result = _extension(_library("libenvdoctor_native.so"))
    assert result.status == m.PASSED, result


def test_doctor_cli_names_the_extension_failure(capsys) -> None:
    library = _library("libenvdoctor_sm75.so")
    code = main(["doctor", "--json", "--python", PYTHON, "--gpu", "0", "--only", "cuda,extension",
                 "--extension", str(library)])
    out = json.loads(capsys.readouterr().out)
    assert code == 2
    finding = next(f for f in out["findings"] if f["code"] == "smoke-extension-failed")
    assert "no kernel image" in finding["detail"]
