from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


# A real CPU torch for tests that must run the real thing (this machine's pip serves 2.13.0 from disk).
REAL_TORCH = "2.13.0"


def _venvs() -> Path:
    return Path(os.environ.get("ENVDOCTOR_TEST_VENVS") or Path.home() / ".cache" / "envdoctor-test-venvs")


@pytest.fixture(scope="session")
def cpu_torch_python() -> Path:
    key = f"torch-{REAL_TORCH}-py{sys.version_info[0]}{sys.version_info[1]}"
    final = _venvs() / key
    python = final / "bin" / "python"
    if (final / ".complete").exists():
        return python
    staging = _venvs() / f".{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True)
    pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "-q"]
    done = subprocess.run(pip + [f"torch=={REAL_TORCH}"], capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"cannot install torch=={REAL_TORCH}: {(done.stderr or done.stdout).strip()[-300:]}")
    # onnxruntime (CPU) is optional: with it the onnxruntime smoke test runs its CPU half for real.
    subprocess.run(pip + ["onnxruntime", "numpy"], capture_output=True, text=True)
    (staging / ".complete").write_text(REAL_TORCH, encoding="utf-8")
    try:
        staging.rename(final)  # venvs hold absolute paths in scripts only; python itself is fine moved
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another session won the race
    return python
