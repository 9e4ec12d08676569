"""From configure to a running WebUI code path: the shell launcher envdoctor writes, started for real.

The tree's Python code runs on the stand-in torch; `envdoctor check` in the launcher is the real one,
on a real venv runtime with the check's fake torch and a small matrix of our own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from tests.gptsovits.conftest import configure, result_of
from tests.gptsovits.test_configure_cli import MATRIX
from tests.gptsovits.trees import snapshot
from tests.support.fake_torch import FakeTorch, make_runtime

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")


def launch(root: Path, standin: Path, extra: Dict[str, str]) -> subprocess.CompletedProcess:
    """Start the launcher the way a user might: from the folder above, by a relative path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(standin), str(REPO)]), **extra)
    env.pop("is_half", None)
    return subprocess.run(["sh", f"{root.name}/go-webui.sh"], cwd=root.parent, env=env, capture_output=True,
                          text=True, timeout=120)


def test_configure_then_launch_gives_fp32_and_cpu_speaker_verification(tree, standin, capsys, gpu_5060) -> None:
    root = tree("main")
    before = snapshot(root)
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "auto", "--yes", capsys=capsys)
    assert envelope["_code"] == 0 and envelope["mode"] == "applied"
    assert envelope["settings"]["arch_list"] == "12.0"
    # The GPU's NVRTC is too old (the memo's failure 2) and nothing in the environment says fp16.
    process = launch(root, standin, {"STANDIN_NVRTC_TOO_OLD": "1"})
    assert process.returncode == 0, process.stderr
    result = result_of(process)
    assert result["is_half"] is False and result["device"] == "cuda"
    assert result["fbank_calls"] == [{"device": "cpu", "dtype": "torch.float32"}]
    assert result["arch_list"] == "12.0"
    assert configure(root, "--revert", capsys=capsys)["_code"] == 0
    assert snapshot(root) == before


@pytest.fixture()
def checked_tree(tree, tmp_path, monkeypatch):
    matrix = tmp_path / "matrix"
    matrix.mkdir()
    for name, text in MATRIX.items():
        (matrix / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(matrix))
    root = tree("main")
    (root / "runtime" / "bin" / "python3").unlink()
    make_runtime(root / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4",
                                             devices=[{"name": "NVIDIA GeForce RTX 5060 Ti", "cc": "12.0"}]))
    return root


@pytest.mark.parametrize("gpu, expect_start", [
    ("NVIDIA GeForce RTX 5060 Ti@12.0", False),  # check exit 2: will fail -> stop with the message
    ("NVIDIA GeForce RTX 4090@8.9", True),  # check exit 0/1 -> start
])
def test_launcher_check_stops_only_on_will_fail(checked_tree, standin, capsys, monkeypatch, gpu, expect_start) -> None:
    root = checked_tree
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    command = f"{sys.executable} -m envdoctor"
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "auto", "--launcher-check",
                         "--check-command", command, "--yes", capsys=capsys)
    assert envelope["_code"] == 0, envelope
    process = launch(root, standin, {})
    if expect_start:
        assert process.returncode == 0, process.stdout + process.stderr
        assert result_of(process)["is_half"] is False
    else:
        assert process.returncode == 2
        assert "RESULT" not in process.stdout
        assert "the WebUI was not started" in process.stderr


def test_launcher_check_that_cannot_run_does_not_block(checked_tree, standin, capsys, gpu_5060) -> None:
    root = checked_tree
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "off", "--launcher-check",
              "--check-command", f"{sys.executable} -m envdoctor", "--yes", capsys=capsys)
    process = launch(root, standin, {"ENVDOCTOR_MATRIX_DIR": str(root / "no-matrix")})  # check exits 3
    assert process.returncode == 0, process.stderr
    assert result_of(process)["is_half"] is False


def test_launcher_check_uses_the_bundles_zipapp_when_there_is_one(checked_tree, standin, capsys, gpu_5060) -> None:
    """envdoctor.pyz beside the launchers is run by the bundle's own Python; here a stand-in pyz that
    records its arguments and answers "will fail"."""
    root = checked_tree
    (root / "envdoctor.pyz").write_text("import sys\nprint('PYZ', sys.argv[1:])\nsys.exit(2)\n")
    configure(root, "--fp16", "off", "--arch-list", "off", "--launcher-check", "--yes", capsys=capsys)
    bat = (root / "go-webui.bat").read_text()
    assert '"%~dp0runtime\\python.exe" "%~dp0envdoctor.pyz" check --launcher --root "%~dp0."' in bat
    process = launch(root, standin, {})
    assert process.returncode == 2
    assert f"PYZ ['check', '--launcher', '--root', '{root}']" in process.stdout


def test_launcher_check_alone_changes_nothing_else(tree, capsys, gpu_5060) -> None:
    """Issue 23.5 / README step 2: `configure --launcher-check --yes` adds the check block and nothing else;
    on the memo's GPU auto would have turned FP16 off and moved speaker verification to the CPU."""
    root = tree("v2pro-2025")
    untouched = ["config.py", "GPT_SoVITS/sv.py", "GPT_SoVITS/configs/tts_infer.yaml"]
    before = {name: (root / name).read_bytes() for name in untouched}
    envelope = configure(root, "--launcher-check", "--yes", capsys=capsys)
    assert envelope["_code"] == 0 and envelope["mode"] == "applied", envelope
    settings = envelope["settings"]
    assert settings["launcher_check"] is True
    assert (settings["fp16"], settings["v2pro_sv"], settings["arch_list"]) == (None, None, None), settings
    assert {name: (root / name).read_bytes() for name in untouched} == before
    bat = (root / "go-webui.bat").read_bytes().decode("gbk")
    assert "envdoctor" in bat and "is_half" not in bat and "GPT_SOVITS_SV_MODE" not in bat, bat
    # A later explicit choice is still honoured, and the next run without options keeps both.
    assert configure(root, "--fp16", "off", "--yes", capsys=capsys)["settings"]["fp16"] is False
    again = configure(root, "--yes", capsys=capsys)["settings"]
    assert again["fp16"] is False and again["launcher_check"] is True
