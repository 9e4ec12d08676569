"""Issue 23, B from the bundle alone: upgrade, rollback, recover and `fix --choose B` started by the
bundle's own runtime\\python.exe step out of runtime\\ (envdoctor/relaunch.py) so the swap can rename it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.windows import lane as wl
from tests.windows.winwheels import install_old_torch, torch_pair

pytestmark = [pytest.mark.windows, pytest.mark.slow]


@pytest.fixture
def pack(other_drive: Path, tmp_path: Path) -> Path:
    """A wheelhouse on E: (the user's fix pack): the plan's torch/torchaudio 2.7.0+cu128 for Windows."""
    folder = other_drive / f"fixpack-{tmp_path.name}"
    torch_pair(folder, "2.7.0", "cu128", "12.8", new_archs=True)
    return folder


@pytest.fixture
def upgradable(make_bundle, tmp_path: Path):
    bundle = make_bundle()
    install_old_torch(bundle.runtime, tmp_path / "old")
    wl.install_pip(bundle.runtime)
    return bundle


def test_probe(upgradable, pack, lane) -> None:
    win_pack = lane.windows_path(pack)
    done = upgradable.run(f"runtime\\python.exe envdoctor.pyz upgrade --yes --wheelhouse {win_pack}", timeout=400)
    print(done.returncode, done.out(), done.err())
    assert 0
