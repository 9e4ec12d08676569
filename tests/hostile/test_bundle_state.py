"""envdoctor's own state in a bundle (.envdoctor: lock, holder, journal, configure's backups) against
links and FIFOs planted there, and writers that race each other. Nothing outside the bundle is
written, and no race loses an original: every writer takes the bundle's one lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.gptsovits.trees import make_tree
from tests.hostile.conftest import REPO, record, snapshot, unchanged

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="links and FIFOs made the POSIX way")

TXID = "20260101T000000Z-abcdef"
GPU = {"ENVDOCTOR_GPUS": "NVIDIA GeForce RTX 5060 Ti@12.0@16311", "ENVDOCTOR_DRIVER": "576.02@12.9"}
SETTINGS = ["--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--device", "cpu"]


def upgrade_bundle(tmp_path: Path, template: Path) -> Path:
    """A bundle with an interrupted upgrade (an open transaction that recover will close)."""
    root = tmp_path / "gsv"
    shutil.copytree(template, root / "runtime", symlinks=True)
    state = root / ".envdoctor" / "upgrade"
    state.mkdir(parents=True)
    (state / f"tx-{TXID}" / "stage").mkdir(parents=True)
    (state / "journal.jsonl").write_text(json.dumps({"tx": TXID, "event": "begin", "kind": "upgrade"}) + "\n")
    return root


def outside_file(tmp_path: Path) -> Path:
    victim = tmp_path / "outside" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("someone else's file\n")
    return victim


def _configure(cli, case, root, *args, expect="answer", lang="en"):
    return cli(case, ["configure", "--root", str(root), "--no-live", "--lang", lang, *args], expect=expect, env=GPU)


# -- 1. state files are never opened through a link ----------------------------------------------------

@pytest.mark.parametrize("command", [["recover"], ["rollback"], ["rollback", "--prune"]])
def test_a_planted_lock_holder_link_never_writes_outside(cli, tmp_path, template, command) -> None:
    root = upgrade_bundle(tmp_path, template)
    victim = outside_file(tmp_path)
    for holder in (root / ".envdoctor" / "lock.holder", root / ".envdoctor" / "upgrade" / "lock.holder"):
        holder.symlink_to(victim)  # where this and earlier envdoctors note the lock's holder
    before = snapshot(victim.parent)
    outcome = cli(f"lock.holder is a link / {' '.join(command)}", [*command, "--root", str(root)], expect="any")
    same = unchanged(f"lock.holder link / {' '.join(command)}: outside file overwritten", before,
                     snapshot(victim.parent))
    assert not outcome.crashed and not outcome.hung, outcome.stderr
    assert same and victim.read_text() == "someone else's file\n"


@pytest.mark.parametrize("command", [["recover"]])
def test_a_journal_that_is_a_link_is_refused_and_never_appended_to(cli, tmp_path, template, command) -> None:
    root = upgrade_bundle(tmp_path, template)
    victim = outside_file(tmp_path)
    journal = root / ".envdoctor" / "upgrade" / "journal.jsonl"
    victim.write_text(journal.read_text())  # a journal-looking file: recover would close its transaction
    journal.unlink()
    journal.symlink_to(victim)
    before = snapshot(victim.parent)
    outcome = cli(f"journal is a link / {command[0]}", [*command, "--root", str(root)])
    same = unchanged(f"journal link / {command[0]}: outside file appended to", before, snapshot(victim.parent))
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert "link" in outcome.stderr
    assert same


def test_a_linked_upgrade_state_folder_is_refused(cli, tmp_path, template) -> None:
    root = upgrade_bundle(tmp_path, template)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(root / ".envdoctor" / "upgrade"), str(elsewhere))
    (root / ".envdoctor" / "upgrade").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(elsewhere)
    outcome = cli("linked .envdoctor/upgrade / recover", ["recover", "--root", str(root)])
    same = unchanged("linked .envdoctor/upgrade / recover: wrote outside", before, snapshot(elsewhere))
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert "link" in outcome.stderr and same


@pytest.mark.parametrize("where", ["lock", "upgrade/lock"])
def test_a_fifo_lock_is_a_clear_error(cli, tmp_path, template, where) -> None:
    root = upgrade_bundle(tmp_path, template)
    os.mkfifo(root / ".envdoctor" / where)  # where this (lock) and earlier envdoctors (upgrade/lock) keep it
    for command in (["recover"], ["rollback"]):
        outcome = cli(f"FIFO at .envdoctor/{where} / {command[0]}", [*command, "--root", str(root)], timeout=20,
                      expect="any" if where == "upgrade/lock" else "error")
        assert not outcome.crashed and not outcome.hung, outcome.stdout + outcome.stderr
        if where == "lock":
            assert outcome.clear_error and "pipe" in outcome.stderr, outcome.stderr
    assert (root / ".envdoctor" / where).is_fifo()


@pytest.mark.parametrize("lang,text", [("en", "is a link"), ("zh_CN", "是一个链接")])
def test_a_linked_envdoctor_folder_is_refused_and_nothing_at_its_target_is_deleted(cli, tmp_path, lang, text) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    outcome = _configure(cli, "configure --yes (to have state)", root, "--yes", *SETTINGS, "--json")
    assert outcome.returncode == 0, outcome.stderr
    # The state moves elsewhere (a folder with the user's own files) and .envdoctor becomes a link to it.
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(root / ".envdoctor"), str(elsewhere))
    (elsewhere / "keep-me.txt").write_text("user data")
    (root / ".envdoctor").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(elsewhere)
    for args in (["--revert", "--force"], ["--revert"], ["--yes", "--fp16", "on"]):
        outcome = _configure(cli, f"linked .envdoctor / configure {args[0]} ({lang})", root, *args, expect="error",
                             lang=lang)
        assert outcome.clear_error, outcome.stdout + outcome.stderr
        assert text in outcome.stderr, outcome.stderr
    assert unchanged(f"linked .envdoctor ({lang}): files at its target deleted", before, snapshot(elsewhere))


# -- 3. one lock per bundle: a busy bundle is a clear error that names the holder ------------------------

HOLD = """
import sys, time
from envdoctor.fileio.bundlestate import BundleLock
with BundleLock(sys.argv[1], command="upgrade --yes"):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("lang,text", [("en", "Another envdoctor is changing"), ("zh_CN", "另一个 envdoctor 正在修改")])
def test_every_writer_is_refused_while_another_holds_the_bundle(cli, tmp_path, template, lang, text) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    shutil.rmtree(root / "runtime")
    shutil.copytree(template, root / "runtime", symlinks=True)
    (root / ".envdoctor" / "upgrade").mkdir(parents=True)
    before = snapshot(root)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == "held"
        for args in (["configure", "--no-live", "--yes", *SETTINGS], ["configure", "--revert"], ["recover"],
                     ["rollback"], ["fix", "--no-live", "--yes", "--choose", "A"]):
            outcome = cli(f"bundle busy / {' '.join(args[:2])} ({lang})", [*args, "--root", str(root), "--lang", lang],
                          env=GPU)
            assert outcome.clear_error, outcome.stdout + outcome.stderr
            assert text in outcome.stderr and str(holder.pid) in outcome.stderr and "upgrade --yes" in outcome.stderr
    finally:
        holder.kill()
        holder.wait()
    assert unchanged(f"bundle busy ({lang}): a refused writer changed the bundle", before, snapshot(root))


# Widens the race window the same way on every machine: each atomic file write (backup, manifest, config
# file) waits a little first, as on a slow disk. Loaded by the children through PYTHONPATH; nothing else
# changes (the real configure runs, with its real files).
SLOW_WRITES = """
import time
import envdoctor.fileio.atomicfile as atomicfile

_real = atomicfile.atomic_write


def _slow(*args, **kwargs):
    time.sleep(0.15)
    return _real(*args, **kwargs)


atomicfile.atomic_write = _slow
"""


def _start(args, root, slow: Path):
    return subprocess.Popen([sys.executable, "-m", "envdoctor", "configure", "--root", str(root), "--no-live",
                             "--json", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(slow), str(REPO)]), LANG="C.UTF-8",
                                     **GPU))


def _finish(process) -> tuple:
    out, err = process.communicate(timeout=60)
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _race(tmp_path: Path, name: str, rounds: int, first, second, stagger: float = 0.0) -> None:
    """Each round: a fresh tree, two configure processes started together (the first `stagger` x round
    seconds later), then --revert --force must bring back every original byte for byte."""
    lost = []
    slow = tmp_path / "slow-writes"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_WRITES)
    for number in range(rounds):
        root = make_tree(tmp_path / f"{name}-{number}", "main")
        original = snapshot(root)
        if first[0] == "--revert":  # apply racing revert: something to revert first
            done = subprocess.run([sys.executable, "-m", "envdoctor", "configure", "--root", str(root), "--no-live",
                                   "--yes", *SETTINGS], capture_output=True, env=dict(os.environ, PYTHONPATH=str(REPO),
                                                                                      **GPU))
            assert done.returncode == 0, done.stderr
        b = _start(second, root, slow)
        time.sleep(stagger * number)
        a = _start(first, root, slow)
        for code, out, err in (_finish(a), _finish(b)):
            assert code in (0, 3), err
            assert "Traceback" not in err and "Unexpected error" not in err, err
            if code == 3:
                assert "state.busy" in out, out + err  # the only refusal a race may cause
        revert = subprocess.run([sys.executable, "-m", "envdoctor", "configure", "--root", str(root), "--revert",
                                 "--force"], capture_output=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
        if revert.returncode != 0 or snapshot(root, skip=()) != original:
            lost.append((number, revert.returncode, revert.stderr.decode("utf-8", "replace")[-300:]))
    record(f"{name}: {rounds} rounds", "inputs")
    record(f"{name}: {len(lost)} of {rounds} rounds lost an original", "data-lost" if lost else "right-answer")
    assert not lost, lost


@pytest.mark.slow
def test_two_configure_yes_at_once_never_lose_a_backup(tmp_path) -> None:
    # One run changes the launchers and config files, the other (started a moment later) tts_infer.yaml:
    # without a lock, the first one's clean-up deleted the backups the second had just recorded.
    _race(tmp_path, "configure --yes x2", 6, ["--yes", "--device", "cpu"], ["--yes", *SETTINGS[:6]], stagger=0.15)


@pytest.mark.slow
def test_configure_racing_revert_never_loses_the_original(tmp_path) -> None:
    _race(tmp_path, "configure --revert vs --yes", 6, ["--revert"], ["--yes", "--fp16", "on", "--device", "cuda"],
          stagger=0.1)


# -- 3. a symlinked config file comes back as the link -----------------------------------------------

def test_a_symlinked_config_file_comes_back_as_the_link(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    yaml = root / "GPT_SoVITS" / "configs" / "tts_infer.yaml"
    shared = root / "GPT_SoVITS" / "configs" / "shared" / "tts_infer.yaml"  # the user's own layout
    shared.parent.mkdir()
    shutil.move(str(yaml), str(shared))
    yaml.symlink_to(Path("shared") / "tts_infer.yaml")
    target_bytes = shared.read_bytes()
    outcome = _configure(cli, "configure --yes with a symlinked tts_infer.yaml", root, "--yes", *SETTINGS)
    assert outcome.returncode == 0, outcome.stderr
    assert shared.read_bytes() == target_bytes  # the link's target is never written
    assert not yaml.is_symlink() and b"cpu" in yaml.read_bytes()
    outcome = _configure(cli, "configure --revert of a symlinked tts_infer.yaml", root, "--revert")
    assert outcome.returncode == 0, outcome.stderr
    came_back = yaml.is_symlink() and os.readlink(yaml) == os.path.join("shared", "tts_infer.yaml")
    if not came_back:
        record("symlinked tts_infer.yaml: reverted as a copy, not the link", "wrong-answer")
    assert came_back
    assert shared.read_bytes() == target_bytes and not (root / ".envdoctor").exists()


def test_a_bundle_where_no_lock_can_be_made_is_a_clear_error(tmp_path, monkeypatch, capsys) -> None:
    """A read-only bundle folder (simulated: this suite runs as root, which may write anywhere)."""
    import errno

    import envdoctor.fileio.bundlestate as bundlestate
    from envdoctor.cli.main import main

    root = make_tree(tmp_path / "gsv", "main")
    before = snapshot(root, skip=())

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(bundlestate.os, "mkdir", read_only)
    for key, value in GPU.items():
        monkeypatch.setenv(key, value)
    code = main(["configure", "--root", str(root), "--no-live", "--yes", *SETTINGS])
    err = capsys.readouterr().err
    record("configure --yes in a read-only bundle", "inputs")
    record("configure --yes in a read-only bundle", "clear-error" if code == 3 and "read-only" in err else "crash")
    assert code == 3 and "lock file" in err and "Unexpected" not in err, err
    assert snapshot(root, skip=()) == before


@pytest.mark.parametrize("which", ["manifest.json", "backup/config.py"])
def test_configure_state_files_are_not_read_through_a_link(cli, tmp_path, which) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    outcome = _configure(cli, "configure --yes (to have state)", root, "--yes", *SETTINGS)
    assert outcome.returncode == 0, outcome.stderr
    state = root / ".envdoctor" / "configure"
    outside = tmp_path / "outside" / which.replace("/", "-")
    outside.parent.mkdir()
    shutil.move(str(state / which), str(outside))  # same bytes, now outside the bundle, behind a link
    (state / which).symlink_to(outside)
    before = snapshot(root)
    outcome = _configure(cli, f"configure --revert with a linked {which}", root, "--revert", "--force", expect="error")
    assert outcome.clear_error and "link" in outcome.stderr, outcome.stdout + outcome.stderr
    assert unchanged(f"linked {which}: revert went on through the link", before, snapshot(root))
