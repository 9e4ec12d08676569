"""Issue 23, B from the bundle alone: upgrade, rollback, recover and `fix --choose B` started by the
bundle's own runtime\\python.exe step out of runtime\\ (envdoctor/process/relaunch.py) so the swap can rename it;
a wheelhouse or .zip fix pack on another drive (E:) is read (problem 1); an interrupted swap is recovered
by fix-env.bat with the interpreter copy kept outside runtime\\ (issue 28.2)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from envdoctor.fix.launchers import launcher_files
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


def _torch(bundle) -> str:
    site = bundle.runtime / "Lib" / "site-packages"
    return ",".join(sorted(p.name for p in site.glob("torch-*.dist-info")))


def test_upgrade_and_rollback_from_the_bundles_own_python(upgradable, pack, lane) -> None:
    bundle = upgradable
    win_pack = lane.windows_path(pack)
    assert win_pack.startswith("E:\\") or not win_pack.startswith(bundle.win[:2]), (win_pack, bundle.win)
    done = bundle.run(f"runtime\\python.exe envdoctor.pyz upgrade --yes --wheelhouse {win_pack}", timeout=400)
    out = done.out()
    assert done.returncode == 0, (out, done.err())
    assert "Done: torch 2.4.1+cu118 -> 2.7.0+cu128" in " ".join(out.split()), out
    assert _torch(bundle) == "torch-2.7.0+cu128.dist-info"
    # it ran from the copy outside runtime\, which is kept for the launchers
    assert (bundle.root / ".envdoctor" / "python" / "python.exe").is_file()
    assert not list((bundle.root / ".envdoctor" / "python").glob("Lib/site-packages"))
    # rollback from the same python, in a Chinese console, exit code through cmd
    back = bundle.run("runtime\\python.exe envdoctor.pyz rollback", lang="zh", timeout=300)
    assert back.returncode == 0, (back.out("gbk"), back.err("gbk"))
    assert _torch(bundle) == "torch-2.4.1+cu118.dist-info"
    assert "close the WebUI" not in back.out("gbk") + back.err("gbk")


def test_fix_choose_b_with_a_zip_pack_on_another_drive_reaches_the_install(upgradable, pack, lane,
                                                                           other_drive: Path) -> None:
    bundle = upgradable
    archive = other_drive / f"{pack.name}.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for wheel in pack.glob("*.whl"):
            handle.write(wheel, wheel.name)
    done = bundle.run(f"runtime\\python.exe envdoctor.pyz fix --yes --choose B --no-live --wheelhouse "
                      f"{lane.windows_path(archive)} --json", timeout=500)
    envelope = json.loads(done.out())
    assert done.returncode in (0, 1), (done.out(), done.err())
    assert _torch(bundle) == "torch-2.7.0+cu128.dist-info", envelope
    assert "not a readable wheel" not in done.out()


def test_an_interrupted_swap_is_recovered_by_fix_env_bat(upgradable, pack, lane) -> None:
    bundle = upgradable
    # killed between the two renames of the Windows swap: runtime\ is gone
    killed = bundle.run(f"runtime\\python.exe envdoctor.pyz upgrade --yes --wheelhouse {lane.windows_path(pack)}",
                        env={"ENVDOCTOR_FAULT_AT": "move#2"}, timeout=400)
    # (the console got 0: the original handed over before the swap; the kill came after)
    assert not (bundle.runtime / "python.exe").exists(), killed.out()

    (bundle.root / "fix-env.bat").write_bytes(launcher_files()["fix-env.bat"])
    done = bundle.lane.cmd(f"call \"{bundle.win}\\fix-env.bat\" --choose A --yes --no-live\nexit /b %ERRORLEVEL%",
                           bundle.root.parent, bundle.root, env={"ENVDOCTOR_CACHE_DIR": bundle.cache, **bundle.env},
                           stdin=b"\r\n\r\n", timeout=300, name="double-click.bat")
    out = done.out()
    assert "runtime\\python.exe is missing" in out, (out, done.err())
    assert (bundle.runtime / "python.exe").is_file(), (out, done.err())
    assert "envdoctor fix" in out or "fix" in out
