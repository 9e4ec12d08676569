"""Issue 24.6: on Linux aarch64 the matrix's arch lists are the ARM wheels' own (8.0 and up, sm_110),
never the x86_64 ones: `check --no-scan` used to block a Thor falsely and pass a T4 falsely.

The runtime is real files: torch's version.py and dist-info (its WHEEL tag says which CPU the wheel is
for), no libraries (`--no-scan` reads none), as on an ARM machine whose check skips the scan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from envdoctor.cli.main import main
from tests.cli.test_expected_verdicts import write_torch_files

DRIVER = "580.65.06@13.0"


def arm_runtime(root: Path, build: str, tag: str = "cp311-cp311-manylinux_2_28_aarch64") -> Path:
    runtime = root / "runtime"
    (runtime / "bin").mkdir(parents=True)
    (runtime / "bin" / "python3").write_text("#!/bin/sh\nexit 1\n")
    site = runtime / "lib" / "python3.11" / "site-packages"
    write_torch_files(site, build, "13.0")
    (site / f"torch-{build}.dist-info" / "WHEEL").write_text(
        f"Wheel-Version: 1.0\nGenerator: setuptools\nRoot-Is-Purelib: false\nTag: {tag}\n", encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def check(root: Path, gpu: str, capsys, monkeypatch) -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", DRIVER)
    code = main(["check", "--root", str(root), "--json", "--no-live", "--no-scan", "--lang", "en"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def codes(envelope: dict, severity: str = "") -> List[str]:
    return sorted(f["code"] for f in envelope["findings"] if not severity or f["severity"] == severity)


def test_thor_on_arm_cu130_is_not_blocked(tmp_path: Path, capsys, monkeypatch) -> None:
    """The aarch64 cu130 wheels carry sm_110 (x86_64's do not): Thor runs."""
    envelope = check(arm_runtime(tmp_path, "2.9.1+cu130"), "NVIDIA Jetson AGX Thor@11.0", capsys, monkeypatch)
    assert envelope["exit_code"] != 2, codes(envelope, "blocking")
    assert "kernels-native" in codes(envelope)
    assert envelope["facts"]["torch"]["machine"] == "aarch64"


def test_t4_on_arm_cu130_is_not_ready(tmp_path: Path, capsys, monkeypatch) -> None:
    """The aarch64 wheels start at sm_80: a T4 (sm_75) has no kernels there, though the x86_64 list has sm_75."""
    envelope = check(arm_runtime(tmp_path, "2.9.1+cu130"), "Tesla T4@7.5", capsys, monkeypatch)
    assert envelope["exit_code"] != 0
    assert "no-kernels-for-gpu" in codes(envelope)


def test_arm_build_the_matrix_has_no_list_for_is_unknown(tmp_path: Path, capsys, monkeypatch) -> None:
    """No aarch64 list for 2.14 in the matrix: not the x86_64 one in its place, an honest 'unknown'."""
    for gpu in ("NVIDIA Jetson AGX Thor@11.0", "Tesla T4@7.5"):
        envelope = check(arm_runtime(tmp_path / gpu[:6], "2.14.1+cu130"), gpu, capsys, monkeypatch)
        assert envelope["exit_code"] == 1, codes(envelope, "blocking")
        assert "coverage-unknown" in codes(envelope) and "kernels-native" not in codes(envelope)


def test_x86_64_wheel_keeps_its_list(tmp_path: Path, capsys, monkeypatch) -> None:
    envelope = check(arm_runtime(tmp_path, "2.9.1+cu130", "cp311-cp311-manylinux_2_28_x86_64"), "Tesla T4@7.5",
                     capsys, monkeypatch)
    assert "kernels-native" in codes(envelope) and envelope["facts"]["torch"]["machine"] == "x86_64"
