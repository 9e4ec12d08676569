"""`report -o` writes only regular files, atomically: never over a device, a FIFO or through a
symlink; a kill -9 during the write leaves the old file or none, and the next run cleans up."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

REPORT = ["report", "--no-live", "--no-scan"]
ENV = {"ENVDOCTOR_GPUS": "none"}


def _report(cli, case, tmp_path, output, expect="error", env=None):
    return cli(case, [*REPORT, "--root", str(tmp_path), "-o", str(output)], expect=expect, env={**ENV, **(env or {})})


def test_a_fifo_is_not_replaced(cli, tmp_path) -> None:
    fifo = tmp_path / "out.zip"
    os.mkfifo(fifo)
    outcome = _report(cli, "report -o FIFO", tmp_path, fifo)
    assert outcome.clear_error and "named pipe" in outcome.stderr, outcome.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0 if hasattr(os, "geteuid") else True, reason="mknod of a device needs root")
def test_a_device_is_not_replaced(cli, tmp_path) -> None:
    device = tmp_path / "full"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # the same device as /dev/full
    outcome = _report(cli, "report -o device", tmp_path, device)
    assert outcome.clear_error and "device" in outcome.stderr, outcome.stderr
    assert stat.S_ISCHR(os.lstat(device).st_mode)


@pytest.mark.parametrize("target_exists", [True, False])
def test_a_symlink_is_neither_followed_nor_replaced(cli, tmp_path, target_exists) -> None:
    target = tmp_path / "precious.txt"
    if target_exists:
        target.write_text("keep me")
    link = tmp_path / "out.zip"
    os.symlink(target, link)
    outcome = _report(cli, f"report -o symlink (target exists: {target_exists})", tmp_path, link)
    assert outcome.clear_error and "symbolic link" in outcome.stderr, outcome.stderr
    assert os.path.islink(link)
    assert (target.read_text() == "keep me") if target_exists else not target.exists()


def test_a_regular_file_is_replaced_whole(cli, tmp_path) -> None:
    out = tmp_path / "out.zip"
    out.write_bytes(b"old")
    outcome = _report(cli, "report -o existing file", tmp_path, out, expect="answer")
    assert outcome.returncode in (0, 1, 2, 3) and not outcome.crashed, outcome.stderr
    with zipfile.ZipFile(out) as archive:
        assert "report.json" in archive.namelist()
    assert not list(tmp_path.glob(".envdoctor-*.tmp"))


def test_kill_9_during_the_write_leaves_the_old_file_and_the_next_run_cleans_up(cli, tmp_path) -> None:
    out = tmp_path / "out.zip"
    out.write_bytes(b"old report")
    killed = _report(cli, "report killed mid-write", tmp_path, out, expect="killed",
                     env={"ENVDOCTOR_FAULT_AT": "output-written"})
    assert killed.returncode == -9, killed.stderr
    assert out.read_bytes() == b"old report"
    left = list(tmp_path.glob(".envdoctor-*.tmp"))
    assert len(left) == 1
    os.utime(left[0], (1, 1))  # as if the killed run was a while ago
    again = _report(cli, "report after a killed one", tmp_path, out, expect="answer")
    assert not again.crashed, again.stderr
    assert zipfile.is_zipfile(out)
    assert not list(tmp_path.glob(".envdoctor-*.tmp"))


def test_an_output_in_a_missing_folder_under_a_file_is_a_clear_error(cli, tmp_path) -> None:
    (tmp_path / "afile").write_text("x")
    outcome = _report(cli, "report -o under a file", tmp_path, Path(tmp_path / "afile" / "out.zip"))
    assert outcome.clear_error, outcome.stdout + outcome.stderr


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "loop"])
def test_report_log_that_is_not_a_file_says_what_it_is(cli, tmp_path, kind) -> None:
    path = tmp_path / "webui.log"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        os.symlink(path, path)
    outcome = cli(f"report --log {kind}", [*REPORT, "--root", str(tmp_path), "--log", str(path), "-o",
                                           str(tmp_path / "o.zip")], env=ENV)
    expected = {"fifo": "named pipe", "device": "device", "folder": "is a folder", "loop": "symlink loop"}[kind]
    assert outcome.clear_error and expected in outcome.stderr, outcome.stderr
    assert not (tmp_path / "o.zip").exists()


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("writer", ["atomic_write", "write_output"])
def test_both_writers_give_the_permissions_of_a_plain_open(tmp_path, writer) -> None:
    """One writer: a new file gets 0o666 & ~umask (not mkstemp's 0o600), an existing one keeps its mode,
    an explicit mode is set exactly."""
    from envdoctor.fileio.atomicfile import atomic_write
    from envdoctor.fileio.safeio import write_output

    write = atomic_write if writer == "atomic_write" else write_output
    old = os.umask(0o027)
    try:
        write(str(tmp_path / "new"), b"x")
        (tmp_path / "kept").write_bytes(b"old")
        os.chmod(tmp_path / "kept", 0o751)
        write(str(tmp_path / "kept"), b"new")
        write(str(tmp_path / "private"), b"x", 0o600)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new") == 0o640
    assert _mode(tmp_path / "kept") == 0o751 and (tmp_path / "kept").read_bytes() == b"new"
    assert _mode(tmp_path / "private") == 0o600
    assert not list(tmp_path.glob(".envdoctor-*.tmp"))
