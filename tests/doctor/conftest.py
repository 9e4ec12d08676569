from __future__ import annotations

from pathlib import Path

import pytest

from .fake_runtime import make_fake_runtime

HERE = Path(__file__).resolve().parent
MATRIX = HERE.parent / "fixtures" / "doctor-matrix"


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own cache, the test matrix (with known errors), no GPU override, English."""
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(MATRIX))
    for name in ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "ENVDOCTOR_LANG", "LC_ALL", "LC_MESSAGES",
                 "ENVDOCTOR_FAKE_TORCH", "ENVDOCTOR_FAKE_ORT", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(scope="session")
def fake_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv with the stand-in torch 2.6.0+cu124 and onnxruntime-gpu (behaviour per run)."""
    return make_fake_runtime(tmp_path_factory.mktemp("fake-runtime") / "venv", onnxruntime=True)
