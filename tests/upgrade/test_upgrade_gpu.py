"""On a real NVIDIA GPU (skipped without nvidia-smi):

1. a candidate that passes every file-based check but cannot run kernels on the real GPU fails the
   smoke tests and is never swapped in (the runtime stays byte-identical);
2. a good candidate — the machine's own torch environment — passes verification there: envdoctor's
   check says native for every GPU, `import torch` works, and the fp16 attention / fft smoke tests run.

The interpreter whose torch is "the machine's own" is $ENVDOCTOR_GPU_PYTHON, else the one running pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main
from envdoctor.probes.gpus import detect_gpus
from envdoctor.upgrade.proc import StageRunner
from envdoctor.upgrade.verify import check_stage, import_modules, pip_check, smoke

pytestmark = pytest.mark.gpu
if shutil.which("nvidia-smi") is None:
    pytest.skip("no NVIDIA GPU here (nvidia-smi absent)", allow_module_level=True)


@pytest.fixture
def real_gpu(env, monkeypatch):
    monkeypatch.delenv("ENVDOCTOR_GPUS", raising=False)
    monkeypatch.delenv("ENVDOCTOR_DRIVER", raising=False)
    gpus = detect_gpus()
    if not gpus.gpus:
        pytest.skip("nvidia-smi is present but no GPU was detected")
    return gpus


def test_candidate_failing_smoke_tests_on_the_real_gpu_is_never_swapped(bundle, real_gpu, index, capsys):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    code = main(["upgrade", "--root", bundle, "--torch", "2.7.0", "--variant", "cu128", "--index-url", index.url,
                 "--yes", "--json"])
    out = json.loads(capsys.readouterr().out)
    print(json.dumps(out.get("result", out), indent=1)[:4000])
    assert code == 2, out
    steps = {s["name"]: s for s in out["result"]["verify"]["steps"]}
    assert steps["check"]["status"] == "ok"  # the files claim native kernels for this GPU...
    assert steps["smoke"]["status"] == "failed"  # ...but the real GPU says otherwise
    assert h.manifest(runtime) == before
    assert not [d for d in os.listdir(os.path.join(bundle, ".envdoctor", "upgrade")) if d.startswith("tx-")]


def test_the_machines_own_torch_passes_verification_on_the_real_gpu(real_gpu):
    python = os.environ.get("ENVDOCTOR_GPU_PYTHON") or sys.executable
    probe = subprocess.run([python, "-c", "import torch; assert torch.cuda.is_available()"], capture_output=True,
                           timeout=300)
    if probe.returncode != 0:
        pytest.skip(f"{python} has no CUDA torch")
    runner = StageRunner()
    # pip check covers every package of that environment; on a shared image it may list unrelated
    # conflicts that say nothing about torch: shown, not asserted. The other steps are verify_stage's own.
    print(pip_check(python, runner))
    steps = {"check": check_stage(python, real_gpu, runner), "imports": import_modules(python, ["torch"], runner),
             "smoke": smoke(python, real_gpu, runner)}
    for step in steps.values():
        print(step)
    assert steps["check"].status == "ok", steps["check"].detail
    assert "native" in steps["check"].detail
    assert steps["imports"].status == "ok"
    assert steps["smoke"].status == "ok", steps["smoke"].detail
    assert "sdpa-efficient" in steps["smoke"].detail and "fft-fp32" in steps["smoke"].detail


def test_real_torchaudio_loads_a_wav_or_the_fix_is_named(real_gpu):
    """The app step on the machine's own torch/torchaudio: TorchCodec/FFmpeg for real (torchaudio >= 2.9)."""
    from envdoctor.upgrade.verify import app_paths

    python = os.environ.get("ENVDOCTOR_GPU_PYTHON") or sys.executable
    probe = subprocess.run([python, "-c", "import torchaudio"], capture_output=True, timeout=300)
    if probe.returncode != 0:
        pytest.skip(f"{python} has no torchaudio")
    step = app_paths(python, StageRunner(), None)
    print(step)
    if step.status == "ok":
        assert "torchaudio.load" in step.detail and "16000 Hz" in step.detail
    else:  # a failure must say what to install
        assert step.fix in ("upgrade.fix.torchcodec", "upgrade.fix.ffmpeg", "upgrade.fix.torchaudio"), step
