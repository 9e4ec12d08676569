"""The runtime's pip and the stage's checks run isolated from the caller's Python environment."""

from __future__ import annotations

import sys

from envdoctor.probes.runner import SubprocessRunner
from envdoctor.upgrade.resolve import pip_env
from envdoctor.upgrade.verify import pip_check


def _poisoned_site(folder) -> str:
    """A folder holding one installed distribution whose requirement is missing: `pip check` fails on it
    wherever the folder is on sys.path."""
    info = folder / "envdoctorpoison-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: envdoctorpoison\nVersion: 1.0\n"
                                   "Requires-Dist: envdoctor-missing-requirement-xyz\n")
    (info / "RECORD").write_text("")
    return str(folder)


def test_pip_env_drops_the_callers_python_path_and_user_site(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTHONHOME", str(tmp_path))
    monkeypatch.setenv("PYTHONUSERBASE", str(tmp_path))
    env = pip_env()
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env and "PYTHONUSERBASE" not in env
    assert env["PYTHONNOUSERSITE"] == "1"


def test_pip_check_of_the_stage_ignores_packages_on_the_callers_python_path(monkeypatch, tmp_path):
    # On the GPU machine a PYTHONPATH carrying envdoctor's own wheels made the stage's `pip check` fail
    # on packages the stage does not hold. Here the same with a real pip and a real broken distribution.
    poisoned = _poisoned_site(tmp_path / "site")
    runner = SubprocessRunner()
    monkeypatch.setenv("PYTHONPATH", poisoned)
    # The seam is real: with the folder on the path this pip does see the broken distribution.
    seen = runner.run([sys.executable, "-m", "pip", "list", "--format=freeze"], timeout=120)
    assert "envdoctorpoison==1.0" in seen.stdout
    step = pip_check(sys.executable, runner)
    assert "envdoctorpoison" not in step.detail
