"""On the GPU machine: check's verdict for the real torch there agrees with what doctor's smoke
tests find on the GPU (issue 11). Run by the lead:

  ENVDOCTOR_GPU_PYTHON=/opt/torch/.venv/bin/python3 \
      python -m pytest tests/gpu/test_verdict_matches_smoke.py -m gpu -v -rs -s

It also prints every CUDA library of that runtime with its role (matrices/binaries.yaml) and what
the scanner saw (registered / embedded), for the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envdoctor.cli.main import main

PYTHON = os.environ.get("ENVDOCTOR_GPU_PYTHON", "/opt/torch/.venv/bin/python3")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not Path(PYTHON).exists(), reason=f"no CUDA torch runtime at {PYTHON} (ENVDOCTOR_GPU_PYTHON)"),
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    monkeypatch.delenv("ENVDOCTOR_GPUS", raising=False)
    monkeypatch.delenv("ENVDOCTOR_DRIVER", raising=False)


GPU_INDEPENDENT = ("torchaudio-needs-torchcodec",)


def test_check_verdict_matches_the_smoke_tests(capsys) -> None:
    code = main(["check", "--json", "--python", PYTHON, "--gpu", "0", "-v"])
    check = json.loads(capsys.readouterr().out)
    from envdoctor.matrix.loader import load_matrix

    matrix = load_matrix()
    for binary in check["facts"]["binaries"]:
        role = matrix.binary_role(binary["path"])
        print(f"{role.role:12} {os.path.basename(binary['path']):45} registered={sorted(binary['sass'])} "
              f"embedded={sorted(binary.get('embedded_sass') or {})} error={binary['error']}")
    print("check:", code, [(f["code"], f["severity"]) for f in check["findings"]])
    with capsys.disabled():
        print(capsys.readouterr().out)  # the lines above, shown; doctor's envelope comes alone next
    main(["doctor", "--json", "--python", PYTHON, "--gpu", "0"])
    doctor = json.loads(capsys.readouterr().out)
    status = {s["test"]: s["status"] for s in doctor["smoke"]}
    print("smoke:", status)
    core_ok = all(status.get(t) == "passed" for t in ("cuda", "elementwise", "matmul-fp32", "conv1d-fp32"))
    fft_ok = all(status.get(t) == "passed" for t in ("fft-fp32",))
    # Blockers that hold on any GPU (torchaudio 2.9+ without TorchCodec cannot load audio at all) are not
    # the GPU's verdict: the smoke tests can neither prove nor disprove them.
    gpu_blockers = [f["code"] for f in check["findings"]
                    if f["severity"] == "blocking" and f["code"] not in GPU_INDEPENDENT]
    if core_ok and fft_ok:
        assert not gpu_blockers, f"check blocks on the GPU where it runs torch's kernels and FFTs: {gpu_blockers}"
    else:
        assert code == 2 and gpu_blockers, "the smoke tests fail on the GPU but check does not say will-fail"
