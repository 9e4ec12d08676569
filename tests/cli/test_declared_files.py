"""Issue 27.1: the replay of an unchanged check is keyed on the files the probes DECLARE reading
(envdoctor.probes.inputs.FILE_INPUTS). These tests run whole checks in a child under an audit hook that
records every file opened and every folder listed, and fail on any the declarations do not cover: a probe
that starts reading a new file without declaring it would make a launcher replay a stale answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from envdoctor.demo import SCENARIOS, write_app, write_bundle
from envdoctor.probes.inputs import declares_file
from tests.support.fake_torch import FakeTorch, make_runtime

REPO = Path(__file__).resolve().parents[2]
HOOK = r"""
import json, os, sys
seen = []
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        seen.append(os.path.abspath(os.fsdecode(args[0])))
sys.addaudithook(hook)
from envdoctor.cli.main import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(seen, out)
raise SystemExit(code)
"""


def _recorded_check(root: Path, tmp_path: Path, *args: str) -> Dict:
    log = tmp_path / "opened.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), ENVDOCTOR_NO_REPLAY="1",
               ENVDOCTOR_GPUS="NVIDIA GeForce RTX 5060 Ti@12.0@16311", ENVDOCTOR_DRIVER="576.02@12.9")
    done = subprocess.run([sys.executable, "-c", HOOK, str(log), "check", "--json", *args], cwd=str(root),
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode in (0, 1, 2), done.stderr
    return {"envelope": json.loads(done.stdout), "opened": json.loads(log.read_text(encoding="utf-8"))}


def _outside_declarations(opened: List[str], envelope: Dict, root: Path) -> List[str]:
    """What the check read that is neither declared nor one of the inputs kept elsewhere: the interpreter's
    own files (stdlib, envdoctor's dependencies), envdoctor's code (stamped whole), the cache, the driver's
    /proc files (the driver fingerprint)."""
    from envdoctor.check.prelaunch import replay_anchors

    facts = envelope["facts"]
    anchors = _anchors(facts, envelope, root, replay_anchors)
    skip = [os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, str(REPO / "envdoctor"),
                                         os.environ["ENVDOCTOR_CACHE_DIR"], "/proc/driver/nvidia", "/dev",
                                         "/proc/self", "/etc", "/usr/lib", "/usr/share")]
    return sorted({p for p in opened if not any(p == s or p.startswith(s + os.sep) for s in skip)
                   and not declares_file(p, anchors) and not p.endswith("opened.json")})


def _anchors(facts: Dict, envelope: Dict, root: Path, replay_anchors) -> Dict:
    """The anchors the check itself derives, rebuilt from the envelope's facts."""
    from types import SimpleNamespace

    from envdoctor.model import Runtime

    runtime = facts.get("runtime")
    torch = facts.get("torch")
    dists = {d["name"]: SimpleNamespace(path=d.get("path")) for d in facts.get("distributions") or []}
    report = SimpleNamespace(
        facts=SimpleNamespace(
            runtime=Runtime(runtime["root"], runtime["python"], runtime["layout"], runtime["platform"],
                            runtime.get("python_version"), tuple(runtime["site_packages"])) if runtime else None,
            torch=SimpleNamespace(location=torch["location"]) if torch else None,
            distribution=dists.get),
        matrix_where=str(REPO / "matrices"))
    return replay_anchors(report, str(root))


def test_a_windows_bundle_check_reads_only_declared_files(tmp_path: Path) -> None:
    root = tmp_path / "GPT-SoVITS"
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    write_app(str(root))
    shutil.copy(REPO / "tests" / "fixtures" / "fatbin" / "windows.dll", root / "runtime" / "Lib" / "site-packages"
                / "torch" / "lib" / "torch_cuda.dll")
    recorded = _recorded_check(root, tmp_path, "--no-live")
    assert any(p.endswith("torch_cuda.dll") for p in recorded["opened"])  # the recording sees the scan
    assert _outside_declarations(recorded["opened"], recorded["envelope"], root) == []


def test_a_configured_posix_bundle_with_a_live_probe_reads_only_declared_files(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    write_app(str(root))
    make_runtime(root / "runtime", FakeTorch(version="2.6.0+cu124", torchaudio="2.6.0+cu124",
                                             devices=[{"name": "NVIDIA GeForce RTX 5060 Ti", "cc": "12.0"}]))
    torch_lib = next((root / "runtime" / "lib").glob("python3.*/site-packages/torch/lib"))
    shutil.copy(REPO / "tests" / "fixtures" / "fatbin" / "sm75.so", torch_lib / "libtorch_cuda.so")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "envdoctor", "configure", "--root", str(root), "--fp16", "off", "--yes",
                    "--no-live"], env=env, capture_output=True, check=True, timeout=120)
    recorded = _recorded_check(root, tmp_path)
    assert recorded["envelope"]["facts"]["live"] is not None
    assert any(".envdoctor" in p for p in recorded["opened"])  # configure's state was read
    assert _outside_declarations(recorded["opened"], recorded["envelope"], root) == []


def test_an_undeclared_read_is_caught(tmp_path: Path) -> None:
    """The guard itself: a file no declaration names is reported."""
    root = tmp_path / "GPT-SoVITS"
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    recorded = _recorded_check(root, tmp_path, "--no-live")
    stray = str(root / "runtime" / "Lib" / "site-packages" / "numpy-2.0.dist-info" / "METADATA")
    assert _outside_declarations(recorded["opened"] + [stray], recorded["envelope"], root) == [stray]


@pytest.mark.parametrize("path, declared", [
    ("runtime/Lib/site-packages/torch/lib/sub/x.dll", True),
    ("runtime/Lib/site-packages/torch/lib/x.txt", False),
    ("runtime/pyvenv.cfg", True),
    (".envdoctor/configure/manifest.json", True),
    ("GPT_SoVITS/configs/other.yaml", False),
])
def test_patterns(tmp_path: Path, path: str, declared: bool) -> None:
    from envdoctor.probes.inputs import anchor_paths

    site = tmp_path / "runtime" / "Lib" / "site-packages"
    anchors = anchor_paths([("bundle", str(tmp_path)), ("runtime", str(tmp_path / "runtime")), ("site", str(site)),
                            ("torch", str(site / "torch")), ("binaries", str(site / "torch" / "lib"))])
    assert declares_file(str(tmp_path / path), anchors) is declared
