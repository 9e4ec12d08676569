"""The single-file zipapp: built offline from the installed packages, run by a plain interpreter
(`runtime\\python.exe envdoctor.pyz check` in a bundle), with its matrix and catalogues read from
inside the zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pyz") / "envdoctor.pyz"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_pyz.py"), "--from-installed", "-o", str(output)],
                   check=True, capture_output=True)
    return output


def _run(pyz: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # -I: no PYTHONPATH, no user site, the script's own folder only: everything must come from the zip.
    env = dict(os.environ, ENVDOCTOR_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-I", str(pyz), *args], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120)


def test_zipapp_runs_the_demo_check(pyz: Path, tmp_path: Path) -> None:
    result = _run(pyz, tmp_path, "check", "--demo", "--json")
    assert result.returncode == 2, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["matrix"] == "envdoctor/matrices"  # read from inside the zip
    assert {"nvrtc-too-old", "fp16-attention-abort-risk"} <= {f["code"] for f in envelope["findings"]}


def test_zipapp_speaks_chinese_and_scans(pyz: Path, tmp_path: Path) -> None:
    result = _run(pyz, tmp_path, "check", "--demo", "rtx5060ti-cu128", "--lang", "zh_CN")
    assert result.returncode == 0 and "就绪" in result.stdout, result.stderr
    scan = _run(pyz, tmp_path, "scan", str(REPO / "tests" / "fixtures" / "fatbin" / "sm75.so"), "--cc", "9.0", "--json")
    assert scan.returncode == 2 and json.loads(scan.stdout)["binaries"][0]["sass"] == {"sm_75": 2}


def test_zipapp_holds_no_compiled_code(pyz: Path) -> None:
    import zipfile

    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll"))]
    assert "envdoctor/matrices/torch.yaml" in names and "__main__.py" in names
