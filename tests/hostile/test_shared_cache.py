"""A cache folder shared with other users (an admin's ENVDOCTOR_CACHE_DIR, a world-writable folder): what
another user plants there (a zipapp unpack, a replayed verdict, a fix pack's wheels) is never used.

The tests run as root here, which can hand a file to another user (os.chown to OTHER_UID) and open a
folder to everyone (chmod): exactly what the other user's planting leaves behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

import envdoctor.check.replay as replay
import envdoctor.fileio.paths as paths
from envdoctor.cli.main import main
from tests.hostile.conftest import REPO, record
from tests.support.fake_torch import FakeTorch, make_runtime

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="needs root to give files to another user (os.chown)")
OTHER_UID = 54321
ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]


def give_away(path: Path) -> None:
    """Everything under path now belongs to another user, as if that user had made it."""
    for current, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(current, name), OTHER_UID, OTHER_UID)
    os.lchown(path, OTHER_UID, OTHER_UID)


def verdict(case: str, right: bool) -> None:
    record(case, "inputs")
    record(case, "right-answer" if right else "wrong-answer")


# -- a replayed verdict ---------------------------------------------------------------------------------

@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.7.1+cu128", cuda="12.8", arch_list=ARCHS,
                                                 devices=[{"name": "NVIDIA GeForce RTX 5060 Ti", "cc": "12.0"}]))
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))  # the default, kept in the test's folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # a private fallback stays in the test's folder
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(paths, "_CHOSEN", {}, raising=False)
    # The driver's /proc files are the hardware edge: the fingerprint is what they would read.
    monkeypatch.setattr(replay, "driver_fingerprint", lambda: "NVRM version: 576.02\n0000:01:00.0")
    return tmp_path


@pytest.mark.parametrize("how", ["entry-owned-by-another-user", "entry-writable-by-all", "folder-owned-by-another-user",
                                 "folder-writable-by-all"])
def test_a_planted_replay_verdict_is_not_used(machine, capsys, monkeypatch, how) -> None:
    root = machine
    assert main(["check", "--root", str(root)]) == 0  # ready: recorded for the replay
    capsys.readouterr()
    cache = Path(os.environ["ENVDOCTOR_CACHE_DIR"])
    entries = list(cache.glob("replay-*.json"))
    assert len(entries) == 1
    planted = json.loads(entries[0].read_text())
    planted["value"].update(stdout="PLANTED: will fail, reinstall everything\n", exit=2)
    entries[0].write_text(json.dumps(planted))
    if how == "entry-owned-by-another-user":
        os.chown(entries[0], OTHER_UID, OTHER_UID)
    elif how == "entry-writable-by-all":
        os.chmod(entries[0], 0o666)
    elif how == "folder-owned-by-another-user":
        give_away(cache)
    else:
        os.chmod(cache, 0o777)
    monkeypatch.setattr(paths, "_CHOSEN", {}, raising=False)
    code = main(["check", "--root", str(root)])
    captured = capsys.readouterr()
    right = code == 0 and "PLANTED" not in captured.out
    verdict(f"replayed verdict planted in a shared cache ({how})", right)
    assert right, (code, captured.out[-400:])
    if how.startswith("folder"):
        assert "not safe to use" in captured.err  # said once, with the private folder used instead


def test_a_private_cache_still_replays(machine, capsys, monkeypatch) -> None:
    """The control: the user's own cache (0755, theirs) is used and replayed as before."""
    root = machine
    first = main(["check", "--root", str(root)]), capsys.readouterr().out
    monkeypatch.setattr("envdoctor.check.pipeline.run_check", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    assert (main(["check", "--root", str(root)]), capsys.readouterr().out) == first


# -- a fix pack's wheels --------------------------------------------------------------------------------

def test_a_planted_fix_pack_unpack_is_not_installed_from(tmp_path, monkeypatch) -> None:
    from envdoctor.fix import fixpack

    monkeypatch.setattr(paths, "_CHOSEN", {}, raising=False)
    pack = tmp_path / "fixpack.zip"
    with zipfile.ZipFile(pack, "w") as archive:
        archive.writestr("wheels/torch-2.7.1-cp39-none-any.whl", b"the wheel the helper sent")
    cache = Path(os.environ["ENVDOCTOR_CACHE_DIR"])
    planted = cache / "fixpacks" / fixpack._digest(str(pack))
    planted.mkdir(parents=True)
    (planted / "torch-2.7.1-cp39-none-any.whl").write_bytes(b"another user's wheel")
    give_away(planted)
    folder = Path(fixpack.wheel_folder(str(pack)))
    wheel = (folder / "torch-2.7.1-cp39-none-any.whl").read_bytes()
    right = wheel == b"the wheel the helper sent"
    verdict("fix pack unpack planted in the cache", right)
    assert right
    assert folder.stat().st_uid == os.geteuid()


# -- the zipapp's unpacked copy -------------------------------------------------------------------------

PLANTED_INIT = """
import os
open(os.environ["PWNED_MARKER"], "w").write("another user's code ran as you")
"""


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("pyz") / "envdoctor.pyz"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_pyz.py"), "--from-installed", "-o", str(output)],
                   check=True, capture_output=True)
    return output


def _build_id(pyz: Path) -> str:
    with zipfile.ZipFile(pyz) as archive:
        text = archive.read("__main__.py").decode("utf-8")
    return text.split('BUILD_ID = "', 1)[1].split('"', 1)[0]


def _plant(cache: Path, build_id: str) -> Path:
    final = cache / "pyz" / build_id
    (final / "envdoctor").mkdir(parents=True)
    (final / "envdoctor" / "__init__.py").write_text(PLANTED_INIT)
    (final / "envdoctor-pyz-complete").write_text(build_id + "\n")
    return final


def _run_pyz(pyz: Path, tmp_path: Path, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ENVDOCTOR_CACHE_DIR=str(cache), PWNED_MARKER=str(tmp_path / "PWNED"),
               TMPDIR=str(tmp_path / "tmp"), XDG_CACHE_HOME=str(tmp_path / "home-cache"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-I", str(pyz), "check", "--demo", "--json"], env=env,
                          cwd=str(tmp_path), capture_output=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cache-owned-by-another-user", "cache-writable-by-all", "copy-owned-by-another-user"])
def test_a_planted_zipapp_unpack_is_never_run(pyz, tmp_path, how) -> None:
    cache = tmp_path / "shared-cache"
    final = _plant(cache, _build_id(pyz))
    if how == "cache-owned-by-another-user":
        give_away(cache)
    elif how == "cache-writable-by-all":
        give_away(final)
        os.chmod(cache, 0o777)
    else:
        give_away(final)
    done = _run_pyz(pyz, tmp_path, cache)
    ran_planted = (tmp_path / "PWNED").exists()
    right = not ran_planted and done.returncode == 2 and json.loads(done.stdout)["verdict"] == "will-fail"
    verdict(f"zipapp unpack planted in a shared cache ({how})", right)
    assert not ran_planted, "another user's code ran"
    assert right, done.stderr.decode()[-2000:]


@pytest.mark.slow
def test_an_unpack_that_does_not_match_the_archives_hash_is_not_kept(pyz, tmp_path) -> None:
    """The archive names its own content hash (BUILD_ID); unpacked files that do not add up to it (a zip
    changed after it was built) are thrown away instead of becoming the copy every start runs from."""
    tampered = tmp_path / "tampered.pyz"
    with zipfile.ZipFile(pyz) as source, zipfile.ZipFile(tampered, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "envdoctor/__init__.py":
                data += b"\n# changed after the build\n"
            target.writestr(info, data)
    cache = tmp_path / "cache"
    done = _run_pyz(tampered, tmp_path, cache)
    kept = (cache / "pyz" / _build_id(pyz)).exists()
    verdict("zipapp changed after its build: unpacked copy kept", not kept)
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    assert not kept
    shutil.rmtree(cache, ignore_errors=True)


@pytest.mark.slow
def test_the_users_own_cache_is_used_and_made_private(pyz, tmp_path) -> None:
    cache = tmp_path / "cache"
    done = _run_pyz(pyz, tmp_path, cache)
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    final = cache / "pyz" / _build_id(pyz)
    assert (final / "envdoctor-pyz-complete").is_file()
    assert final.stat().st_mode & 0o077 == 0
