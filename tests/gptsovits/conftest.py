from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from envdoctor.cli.main import main
from tests.gptsovits.trees import make_tree, write_standin_torch


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_standin_torch(tmp_path_factory.mktemp("standin"))


@pytest.fixture()
def tree(tmp_path: Path):
    def build(generation: str, **kwargs) -> Path:
        return make_tree(tmp_path / generation, generation, **kwargs)
    return build


@pytest.fixture()
def gpu_5060(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0@16311")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")


def configure(root: Path, *args: str, capsys: pytest.CaptureFixture, lang: str = "en") -> Dict:
    """Run `envdoctor configure --json` in-process; returns the envelope plus the exit code."""
    code = main(["configure", "--root", str(root), "--json", "--lang", lang, "--no-live", *args])
    out = capsys.readouterr().out
    payload = json.loads(out)
    payload["_code"] = code
    return payload


def run_python(root: Path, standin: Path, script: List[str], env: Optional[Dict[str, str]] = None,
               ) -> subprocess.CompletedProcess:
    """Run GPT-SoVITS test-tree code with the stand-in torch, from ROOT like the launchers do."""
    full = dict(os.environ, PYTHONPATH=str(standin), **(env or {}))
    return subprocess.run(script if script[0] != "python" else [sys.executable, *script[1:]], cwd=root,
                          env=full, capture_output=True, text=True, timeout=60)


def result_of(process: subprocess.CompletedProcess) -> Dict:
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, process.stdout + process.stderr
    return json.loads(lines[-1][len("RESULT "):])
