"""A runtime whose pip is too old for `install --report` still upgrades: envdoctor resolves from the wheels' metadata
itself, and the old pip installs the exact files it is given."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main


def _python37():
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.7*/bin/python3.7")) + [shutil.which("python3.7")]
    for exe in filter(None, candidates):
        if subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:  # pyenv shims may refuse
            return exe
    return None


PY37 = _python37()
NEW_PIP = next(iter(sorted(glob.glob("/root/.pyenv/versions/3.*/lib/python3*/ensurepip/_bundled/pip-23.*.whl"))),
               None)


def pip_version(runtime):
    out = subprocess.run([os.path.join(runtime, "bin", "python"), "-B", "-m", "pip", "--version"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.split()[1]


@pytest.mark.slow
def test_old_pip_runtime_is_resolved_from_metadata_and_installs_with_its_own_pip(tmp_path, env, wheels, capsys):
    if PY37 is None or NEW_PIP is None:
        pytest.skip("needs a Python 3.7 (bundles pip 22.0.4) and a pip 23 wheel on this machine")
    root = tmp_path / "bundle"
    runtime = str(root / "runtime")
    subprocess.run([PY37, "-m", "venv", runtime], check=True, capture_output=True, timeout=300)
    h.pip_install(os.path.join(runtime, "bin", "python"), wheels["old"])
    old_pip = pip_version(runtime)
    assert old_pip.startswith("22.0")
    before = h.manifest(runtime)
    with h.IndexServer(wheels["new"] + wheels["fakedep"] + [NEW_PIP]) as server:
        # Python 3.7 is outside every series of the matrix: ask for the build explicitly.
        args = ["upgrade", "--root", str(root), "--torch", "2.7.0", "--variant", "cu128", "--index-url",
                server.url, "--json"]
        assert main([*args, "--dry-run"]) == 0
        preview = json.loads(capsys.readouterr().out)
        assert preview["resolution"]["wheels"]  # resolved by envdoctor from metadata: pip's age does not matter
        assert "override_python" in [n["key"] for n in preview["plan"]["notes"]]
        code = main([*args, "--yes"])
        out = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(out)[-2000:]
    assert pip_version(runtime) == old_pip  # pip 22.0 installs the verified files itself
    assert h.manifest(out["result"]["backup"]) == before
