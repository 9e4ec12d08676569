from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.doctor.session import SMOKE_ON_SIMULATED

from .fake_runtime import make_fake_runtime

HERE = Path(__file__).resolve().parent
MATRIX = HERE.parent / "fixtures" / "doctor-matrix"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test matrix (with known errors) and no scripted fake; tests/conftest.py isolates the rest."""
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(MATRIX))
    # The fake runtime simulates the very GPU that ENVDOCTOR_GPUS describes, so its smoke tests may run
    # (a real runtime on a simulated GPU skips them: test_simulated_gpu_runs_no_smoke_test).
    monkeypatch.setenv(SMOKE_ON_SIMULATED, "1")
    for name in ("ENVDOCTOR_FAKE_TORCH", "ENVDOCTOR_FAKE_ORT", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def fake_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv with the stand-in torch 2.6.0+cu124 and onnxruntime-gpu (behaviour per run)."""
    return make_fake_runtime(tmp_path_factory.mktemp("fake-runtime") / "venv", onnxruntime=True)
