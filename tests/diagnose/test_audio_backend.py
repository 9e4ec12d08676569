"""torchaudio 2.9+ without TorchCodec: check blocks (GPT-SoVITS fails at torchaudio.load), with the fix.

The runtimes carry the real dist-info folders of the torchaudio 2.8.0 / 2.9.0 and torchcodec 0.8.1
wheels (tests/fixtures/dist-info). Expected from matrices/companions.yaml audio_io (measured on the
wheels: 2.9.0's load() is `return load_with_torchcodec(...)`, 2.8.0's is its own backend) and
torchcodec's README table (torch 2.9 -> torchcodec 0.9 / 0.8, Python >= 3.10).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from tests.cli.test_expected_verdicts import CORE, write_torch_files
from tests.support.fatbin_elf import write_elf

DIST_INFO = Path(__file__).resolve().parents[1] / "fixtures" / "dist-info"
GPU, DRIVER = "NVIDIA GeForce RTX 4060@8.9", "580.65.06@13.0"


def runtime(root: Path, torch: str, *installed: str) -> Path:
    """GPT-SoVITS' cu128 package state: torch (files), its core library, and the named dist-infos."""
    site = root / "runtime" / "lib" / "python3.11" / "site-packages"
    (root / "runtime" / "bin").mkdir(parents=True)
    (root / "runtime" / "bin" / "python3").write_text("#!/bin/sh\nexit 1\n")
    write_torch_files(site, torch, "12.8")
    write_elf(site / "torch" / "lib" / "libtorch_cuda.so", CORE["2.8.0+cu128"])
    for name in installed:
        shutil.copytree(DIST_INFO / f"{name}.dist-info", site / f"{name}.dist-info")
    return root


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    monkeypatch.setenv("ENVDOCTOR_GPUS", GPU)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", DRIVER)


def check(root: Path, capsys, lang: str = "en") -> dict:
    code = main(["check", "--root", str(root), "--json", "--no-live", "--lang", lang])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def finding(envelope: dict, code: str):
    return next((f for f in envelope["findings"] if f["code"] == code), None)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_torchaudio_2_9_without_torchcodec_blocks_with_the_fix(tmp_path: Path, capsys, lang: str) -> None:
    envelope = check(runtime(tmp_path, "2.9.0+cu128", "torchaudio-2.9.0"), capsys, lang)
    assert envelope["exit_code"] == 2 and envelope["verdict"] == "will-fail"
    found = finding(envelope, "torchaudio-needs-torchcodec")
    assert found["severity"] == "blocking"
    assert found["params"]["requirement"] == "torchcodec==0.9.*"  # the newest made for torch 2.9
    assert "TorchCodec" in found["title"] and "FFmpeg" in found["fix"] and "2.8" in found["fix"]
    if lang == "zh_CN":
        assert "无法读取音频" in found["title"] and "共享库" in found["fix"]


def test_with_torchcodec_installed_it_does_not_block(tmp_path: Path, capsys) -> None:
    envelope = check(runtime(tmp_path, "2.9.0+cu128", "torchaudio-2.9.0", "torchcodec-0.8.1"), capsys)
    assert finding(envelope, "torchaudio-needs-torchcodec") is None
    assert envelope["exit_code"] in (0, 1)


def test_torchaudio_2_8_needs_no_torchcodec(tmp_path: Path, capsys) -> None:
    envelope = check(runtime(tmp_path, "2.8.0+cu128", "torchaudio-2.8.0"), capsys)
    assert finding(envelope, "torchaudio-needs-torchcodec") is None
    assert envelope["exit_code"] in (0, 1)


def test_the_blocking_row_is_counted_as_one_a_verdict_blocks_on() -> None:
    from envdoctor.matrix.loader import load_matrix

    matrix = load_matrix()
    row = matrix.fact_status("companions.yaml", "audio_io[2.9]")
    assert row is not None and row.blocking and row.verified
