"""Fix packs as people hand them over: Deflate64 (Windows Explorer, over ~2 GB), password-protected, a disk
that fills while unpacking, a pack that inflates a thousandfold. Each ends in a clear message; a pack is
unpacked only once B is chosen, and the cache keeps a bounded number of unpacked packs."""

from __future__ import annotations

import os
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from envdoctor.demo import SCENARIOS, write_bundle
from tests.fix.conftest import fix_wheels, h  # noqa: F401 - fix_wheels: a fixture (old and new torch wheels)
from tests.gptsovits.trees import make_tree

GPU = {"ENVDOCTOR_GPUS": "NVIDIA GeForce RTX 5060 Ti@12.0@16311", "ENVDOCTOR_DRIVER": "576.02@12.9",
       "ENVDOCTOR_NO_REPLAY": "1"}
TORCH = "torch-2.7.0+cu128-cp311-cp311-win_amd64.whl"


def _pack(path: Path, members: dict, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _set_method(path: Path, method: int) -> None:
    """Rewrite every member's compression method in the local headers and the central directory, as
    a zip written with that method says it (Python cannot write Deflate64 itself)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset:at + offset + 2] = struct.pack("<H", method)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """The memo's Windows bundle on a simulated RTX 5060 Ti: check says it will fail."""
    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    return root


@pytest.fixture(scope="module")
def pip_runtime(tmp_path_factory: pytest.TempPathFactory, fix_wheels: dict) -> str:  # noqa: F811
    """A venv with pip and the old torch 2.6.0+cu124. Built with a scratch HOME: creating a venv with pip
    writes ~/.rustup on this machine (a toolchain probe on PATH), which is not envdoctor's doing."""
    base = tmp_path_factory.mktemp("pack-runtime")
    path = str(base / "runtime")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(base / "scratch-home"))
        h.pip_install(h.make_venv(path), fix_wheels["old"])
    return path


@pytest.fixture
def posix_bundle(tmp_path: Path, pip_runtime: str) -> Path:
    """A tree with a real venv runtime (old torch 2.6.0+cu124) that B can upgrade, and the test matrix."""
    import shutil

    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    shutil.rmtree(root / "runtime", ignore_errors=True)
    shutil.copytree(pip_runtime, str(root / "runtime"), symlinks=True)
    h.write_matrix(str(tmp_path / "matrix"))
    return root


def _env(tmp_path: Path) -> dict:
    env = dict(GPU, ENVDOCTOR_CACHE_DIR=str(tmp_path / "cache"))
    if (tmp_path / "matrix").is_dir():
        env["ENVDOCTOR_MATRIX_DIR"] = str(tmp_path / "matrix")
    return env


def _fix(cli, case, tmp_path, root, pack, *args, **kwargs):
    return cli(case, ["fix", "--root", str(root), "--no-live", "--wheelhouse", str(pack), *args],
               env=_env(tmp_path), timeout=180, **kwargs)


def test_a_deflate64_pack_is_refused_naming_the_fix(cli, tmp_path, bundle) -> None:
    pack = _pack(tmp_path / "fixpack.zip", {"wheels/" + TORCH: os.urandom(4096)})
    _set_method(pack, 9)
    outcome = _fix(cli, "fix with a Deflate64 pack", tmp_path, bundle, pack, "--yes", "--choose", "B")
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert "Deflate64" in outcome.stderr and "Re-zip it" in outcome.stderr, outcome.stderr
    zh = _fix(cli, "fix with a Deflate64 pack (zh_CN)", tmp_path, bundle, pack, "--lang", "zh_CN")
    assert zh.clear_error and "重新压缩" in zh.stderr, zh.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/zip"), reason="needs the zip tool to write a password-protected zip")
def test_a_password_protected_pack_is_refused(cli, tmp_path, bundle) -> None:
    wheel = tmp_path / TORCH
    wheel.write_bytes(os.urandom(4096))
    pack = tmp_path / "fixpack.zip"
    subprocess.run(["/usr/bin/zip", "-q", "-j", "-P", "secret", str(pack), str(wheel)], check=True)
    outcome = _fix(cli, "fix with a password-protected pack", tmp_path, bundle, pack, "--yes", "--choose", "B")
    assert outcome.clear_error and "password-protected" in outcome.stderr, outcome.stdout + outcome.stderr


@pytest.mark.slow
def test_a_disk_that_fills_while_unpacking_is_a_clear_error(cli, tmp_path, posix_bundle) -> None:
    pack = _pack(tmp_path / "fixpack.zip", {TORCH: os.urandom(3 << 20)}, zipfile.ZIP_STORED)
    outcome = _fix(cli, "fix B with the disk full while unpacking", tmp_path, posix_bundle, pack, "--yes",
                   "--choose", "B", max_file_bytes=1 << 20)
    assert outcome.clear_error and "Not enough disk space" in outcome.stderr, outcome.stdout + outcome.stderr
    packs = tmp_path / "cache" / "fixpacks"
    assert not packs.exists() or not [p for p in packs.iterdir()]  # the half-written copy is gone


def test_a_pack_that_inflates_a_thousandfold_is_refused_before_unpacking(cli, tmp_path, bundle) -> None:
    pack = tmp_path / "fixpack.zip"
    with zipfile.ZipFile(pack, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(TORCH, "w") as member:
        for _ in range(64):
            member.write(b"\0" * (1 << 20))
    assert pack.stat().st_size < 1 << 20
    outcome = _fix(cli, "fix with a 64 MiB-of-zeros pack", tmp_path, bundle, pack, "--yes", "--choose", "B")
    assert outcome.clear_error and "not a wheel" in outcome.stderr, outcome.stdout + outcome.stderr
    assert not (tmp_path / "cache" / "fixpacks").exists()


@pytest.mark.parametrize("choice", ["A", "C", None])
def test_a_pack_is_not_unpacked_unless_b_is_chosen(cli, tmp_path, posix_bundle, choice) -> None:
    pack = _pack(tmp_path / "fixpack.zip", {TORCH: os.urandom(1 << 20)}, zipfile.ZIP_STORED)
    args = ["--yes", "--choose", choice, "--json"] if choice else ["--json"]
    outcome = _fix(cli, f"fix with a pack, choice {choice}", tmp_path, posix_bundle, pack, *args, expect="answer")
    assert outcome.returncode in (0, 1, 2) and not outcome.crashed, outcome.stdout + outcome.stderr
    import json

    envelope = json.loads(outcome.stdout)
    b = next(c for c in envelope["choices"] if c["key"] == "B")
    assert b["available"] and b["details"]["target"] == "2.7.0+cu128", b
    assert not (tmp_path / "cache" / "fixpacks").exists()  # nothing unpacked: A and C cost no disk


def test_b_from_a_pack_for_a_runtime_of_another_os_is_unavailable_and_nothing_is_unpacked(cli, tmp_path,
                                                                                          bundle) -> None:
    """The planner still decides what is not about the wheels: a Windows runtime cannot be upgraded here."""
    pack = _pack(tmp_path / "fixpack.zip", {TORCH: os.urandom(4096)}, zipfile.ZIP_STORED)
    outcome = _fix(cli, "fix with a pack for a Windows runtime", tmp_path, bundle, pack, "--json", expect="answer")
    import json

    b = next(c for c in json.loads(outcome.stdout)["choices"] if c["key"] == "B")
    assert not b["available"] and "windows runtime" in b["reason"], b
    assert not (tmp_path / "cache" / "fixpacks").exists()


def test_the_cache_keeps_a_bounded_number_of_unpacked_packs(tmp_path, monkeypatch) -> None:
    from envdoctor.fix import fixpack

    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    stale = tmp_path / "cache" / "fixpacks" / ".unpack-dead"
    stale.mkdir(parents=True)
    os.utime(stale, (1, 1))
    folders = []
    for index in range(4):
        pack = _pack(tmp_path / f"pack{index}.zip", {f"torch-2.7.{index}-py3-none-any.whl": os.urandom(1024)})
        folders.append(fixpack.wheel_folder(str(pack)))
        time.sleep(0.01)
    left = sorted(p.name for p in (tmp_path / "cache" / "fixpacks").iterdir())
    assert len(left) == fixpack.KEEP_PACKS, left
    assert [os.path.basename(f) for f in folders[-fixpack.KEEP_PACKS:]] == \
        sorted(left, key=lambda n: [os.path.basename(f) for f in folders].index(n))
    assert not stale.exists()
