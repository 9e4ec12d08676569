from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cache, the repo's matrix, no GPU override and English by default."""
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for name in ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "ENVDOCTOR_MATRIX_DIR", "ENVDOCTOR_LANG", "LC_ALL",
                 "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and os.path.exists("/dev/nvidiactl")


gpu_only = pytest.mark.skipif(not has_gpu(), reason="needs an NVIDIA GPU and driver (run on the GPU machine)")
