"""The smoke scripts against a real torch (CPU build, from the local wheel), run by doctor for real.

The venv is built once and kept beside pytest's temporary session folders (tests/conftest.py,
ENVDOCTOR_TEST_VENVS moves it); when torch cannot be installed (offline, no wheel for this Python),
the tests are skipped with pip's reason.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import TESTS
from envdoctor.doctor.runner import run_one
from envdoctor.model import Gpu, Runtime
from envdoctor.probes.runner import SubprocessRunner
from tests.conftest import REAL_TORCH as TORCH

pytestmark = pytest.mark.slow


def _has(python: Path, module: str) -> bool:
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0


def _runtime(python: Path) -> Runtime:
    return Runtime(str(python.parent.parent), str(python), "posix-prefix", "linux", "3.11", ())


@pytest.mark.parametrize("test", [t for t in TESTS if t.needs == "torch"], ids=lambda t: t.name)
def test_every_torch_script_reports_no_cuda_on_a_cpu_build(cpu_torch_python: Path, test) -> None:
    gpu = Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0))
    result = run_one(test, _runtime(cpu_torch_python), gpu, SubprocessRunner())
    assert result.status == m.SKIPPED, result
    assert result.reason == "no-cuda-build"
    assert "is a CPU build" in result.error and result.details["torch"].startswith(TORCH)
    if test.name.startswith("fft"):
        assert result.details["cpu_ok"] is True  # the real CPU rfft().abs() ran


def test_onnxruntime_cpu_build_skips_after_running_the_model_on_the_cpu(cpu_torch_python: Path) -> None:
    if not _has(cpu_torch_python, "onnxruntime"):
        pytest.skip("onnxruntime could not be installed into the test venv")
    test = next(t for t in TESTS if t.name == "onnxruntime-cuda")
    result = run_one(test, _runtime(cpu_torch_python), None, SubprocessRunner())
    assert result.status == m.SKIPPED and result.reason == "no-cuda-provider"
    assert result.details["cpu_ok"] is True  # the hand-written ONNX model loads and computes correctly


def test_doctor_on_a_real_cpu_runtime(cpu_torch_python: Path, capsys, monkeypatch) -> None:
    # The runtime really is a CPU build: this test is about what it says, so it runs as on the GPU's own machine.
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    code = main(["doctor", "--json", "--python", str(cpu_torch_python)])
    out = json.loads(capsys.readouterr().out)
    assert code == out["exit_code"] == 1
    cuda = next(s for s in out["smoke"] if s["test"] == "cuda")
    assert cuda["status"] == "skipped" and cuda["reason"] == "no-cuda-build" and cuda["duration_s"] > 0
    others = [s for s in out["smoke"] if s["test"] not in ("cuda", "onnxruntime-cuda")]
    assert all(s["status"] == "skipped" and s["duration_s"] == 0 for s in others)  # gated: no process
    assert "cpu-only-torch" in [f["code"] for f in out["findings"]]
    rec = out["recommendation"]
    assert rec["fp16"]["value"] is False and rec["fp16"]["source"] == "facts"
    assert rec["upgrade_needed"]["value"] is True and rec["arch_list"]["value"] == "12.0"


def test_simulated_gpu_runs_no_smoke_test(cpu_torch_python: Path, capsys, monkeypatch) -> None:
    """Issue 23.6: on a what-if GPU (ENVDOCTOR_GPUS, --assume-gpu) a smoke test would run on this machine
    and be reported as the simulated card's result; doctor skips them all, starting no process, and its
    recommendation rests on check's prediction."""
    monkeypatch.delenv("ENVDOCTOR_SMOKE_ON_SIMULATED_GPU")
    for how in (["--assume-gpu", "NVIDIA GeForce RTX 5060 Ti@12.0", "--assume-driver", "576.02@12.9"], []):
        if not how:
            monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
            monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
        main(["doctor", "--json", "--python", str(cpu_torch_python), *how])
        out = json.loads(capsys.readouterr().out)
        assert out["smoke"] and all(s["status"] == "skipped" and s["reason"] == "simulated-gpu"
                                    and s["duration_s"] == 0 for s in out["smoke"]), out["smoke"]
        assert not [f for f in out["findings"] if f["code"].startswith("smoke-") and "skipped" not in f["code"]]
        assert out["recommendation"]["upgrade_needed"]["source"] != "smoke"


def test_the_whole_catalogue_shares_one_real_torch_import(cpu_torch_python: Path) -> None:
    """Without the cuda gate every torch test really runs (and skips) in the same worker: one process."""
    from envdoctor.doctor.catalog import select
    from envdoctor.doctor.session import run_smoke_tests
    from envdoctor.model import Driver, Facts, GpuFacts, TorchBuild

    spawned: list = []
    runner = SubprocessRunner(on_spawn=spawned.append)
    build = TorchBuild(TORCH, TORCH, None, None, None, None, None, "/x/torch")
    gpus = GpuFacts((Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0)),), Driver("576.02", "12.9"))
    facts = Facts(gpus, _runtime(cpu_torch_python), build)
    tests = [t for t in select(skip=["cuda"]) if t.needs == "torch"]
    results = run_smoke_tests(facts, tests, runner=runner)
    assert [r.reason for r in results] == ["no-cuda-build"] * len(tests), results
    # One process ran them all, each test's `import torch` after the first found it imported.
    assert len(spawned) == 1
    assert all(r.details["torch"].startswith(TORCH) and "import-torch" in r.details["timings"] for r in results)
