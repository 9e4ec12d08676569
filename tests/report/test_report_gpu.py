"""On a real NVIDIA machine: the report captures `nvidia-smi -q`, hashes the real UUIDs and serials, and is fast."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main

pytestmark = pytest.mark.gpu  # skipped without a GPU by tests/conftest.py


def _real_identifiers() -> list:
    out = subprocess.run(["nvidia-smi", "--query-gpu=uuid,serial", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=30).stdout
    values = []
    for line in out.splitlines():
        for value in (v.strip() for v in line.split(",")):
            if value and value not in ("[N/A]", "N/A", "0"):
                values.append(value[4:] if value.startswith("GPU-") else value)
    return values


def test_report_on_a_real_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    output = tmp_path / "report.zip"
    started = time.monotonic()
    assert main(["report", "--python", sys.executable, "--no-live", "-o", str(output)]) == 0
    elapsed = time.monotonic() - started
    with zipfile.ZipFile(output) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    smi = contents["evidence/nvidia-smi-q.txt"].decode("utf-8")
    assert "Driver Version" in smi and "GPU UUID" in smi
    identifiers = _real_identifiers()
    assert identifiers, "nvidia-smi reported no UUID"
    for value in identifiers:
        assert not [name for name, data in contents.items() if value.encode() in data], value
    print(f"report on the GPU machine took {elapsed:.2f} s")
    assert elapsed < 2.0
