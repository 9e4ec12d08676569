"""Slow: upgrade a venv runtime to a real CPU torch wheel found offline on this machine, verify it
for real (pip check, envdoctor check, `import torch`), then roll back to a byte-identical runtime.

Wheels are looked for in $ENVDOCTOR_TEST_WHEELHOUSE, /opt/wheels and /opt/pypi/files. With two CPU
torch versions there, it upgrades from the older real one to the newer; with one, from a fake torch.
"""

from __future__ import annotations

import glob
import json
import os
import shutil

import pytest
import upgrade_helpers as h
from packaging.utils import parse_wheel_filename

from envdoctor.cli.main import main

DIRS = [d for d in (os.environ.get("ENVDOCTOR_TEST_WHEELHOUSE"), "/opt/wheels", "/opt/pypi/files") if d]
DEPS = ("filelock", "typing_extensions", "setuptools", "sympy", "mpmath", "networkx", "jinja2", "markupsafe",
        "fsspec")


def _cpu_torch_wheels():
    found = {}
    for folder in DIRS:
        for path in glob.glob(os.path.join(folder, "torch-*+cpu-cp311-*.whl")):
            _name, version, _build, _tags = parse_wheel_filename(os.path.basename(path))
            found.setdefault(str(version), path)
    return sorted(found.items(), key=lambda kv: parse_wheel_filename(os.path.basename(kv[1]))[1])


def _dep_wheels():
    """Every offline version of each dependency: pip picks the ones that fit together."""
    out = []
    for dep in DEPS:
        match = [p for folder in DIRS for pattern in (f"{dep}-*-py3-none-any.whl", f"{dep}-*-cp311-*.whl")
                 for p in glob.glob(os.path.join(folder, pattern))]
        if not match:
            return None
        out.extend(match)
    return out


@pytest.mark.slow
def test_upgrade_to_a_real_cpu_torch_and_roll_back(tmp_path, env, monkeypatch, capsys):
    wheels = _cpu_torch_wheels()
    deps = _dep_wheels()
    if not wheels or deps is None or os.uname().machine != "x86_64":
        pytest.skip("no real CPU torch wheel (cp311, x86_64) with its dependencies on this machine")
    monkeypatch.setenv("ENVDOCTOR_GPUS", "none")
    monkeypatch.delenv("ENVDOCTOR_DRIVER", raising=False)
    target_version, target_wheel = wheels[-1]
    house = tmp_path / "house"
    house.mkdir()
    for path in [target_wheel, *deps]:
        if not (house / os.path.basename(path)).exists():
            os.symlink(path, house / os.path.basename(path))
    release = target_version.split("+")[0]
    # no torchaudio wheel is offline: a small one with real metadata pairs with the real torch
    h.build_wheel(str(house), "torchaudio", target_version, h.audio_files(target_version), [f"torch=={release}"])
    root = tmp_path / "bundle"
    runtime = str(root / "runtime")
    python = h.make_venv(runtime)
    if len(wheels) >= 2:
        old_version, old_wheel = wheels[-2]
        h.pip_install(python, [old_wheel])
    else:
        h.pip_install(python, h.build_set(str(tmp_path / "old"), "2.6.0", "cu124", "12.4", h.ARCHS_OLD))
    before = h.manifest(runtime)
    code = main(["upgrade", "--root", str(root), "--torch", release, "--variant", "cpu", "--wheelhouse",
                 str(house), "--yes", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(out)[-3000:]
    steps = {s["name"]: s for s in out["result"]["verify"]["steps"]}
    assert steps["imports"]["status"] == "ok" and target_version in steps["imports"]["detail"]
    assert steps["check"]["status"] == "ok"
    assert out["result"]["to_torch"] == target_version
    assert main(["rollback", "--root", str(root), "--json"]) == 0
    capsys.readouterr()
    assert h.manifest(runtime) == before
    assert main(["rollback", "--root", str(root), "--prune", "--keep", "0", "--json"]) == 0
    assert shutil.disk_usage(str(root)).free > 0
