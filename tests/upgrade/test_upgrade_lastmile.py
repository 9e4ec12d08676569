"""Issue 28 (and issue 25 item 1): the upgrade's last mile.

- the stage never lets pip change an inode the original shares (read-only torch, a non-root user);
- links that lead out of the runtime are never written through, nor kept as the backup's only copy;
- SIGTERM/SIGHUP/Ctrl-C during the swap finish or undo it: a runtime exists when the process ends;
- a full disk during the swap or `recover` says what is in place and to free space, then recover;
- a `runtime` that is a relative link can be rolled back;
- Ctrl-C says what became of the work; an unmovable runtime is refused before any work.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys

import pytest
import upgrade_helpers as h

from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout

OLD, NEW = "2.6.0+cu124", "2.7.0+cu128"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOBODY = 65534


def cli(env, *argv, user=False, timeout=300):
    """envdoctor in a child process; `user`: as the unprivileged user `nobody` (see as_nobody)."""
    command = [sys.executable, "-m", "envdoctor", *argv]
    if user:
        command = as_nobody(command)
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)


def as_nobody(command):
    """Run as uid/gid 65534 with no supplementary groups. The interpreter and the repository may live
    under folders only root may search (here /root is 0700), so the one capability kept is
    CAP_DAC_READ_SEARCH: reading and searching bypass permissions, writing (and unlinking, chmod of
    another user's file) does not, which is what this test is about."""
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *command]


def nobody_available():
    if os.geteuid() != 0:
        return "needs root to start a process as another user"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    probe = subprocess.run(as_nobody([sys.executable, "-c", "import os; print(os.geteuid())"]),
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0 or probe.stdout.strip() != str(NOBODY):
        return f"cannot run as uid {NOBODY} here: {probe.stderr.strip()[-200:]}"
    return ""




def inodes(root):
    """Every entry's (kind, mode, size, mtime, inode, owner), by relative path: what "unchanged" means."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            path = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size,
                                                st.st_mtime_ns, st.st_ino, st.st_uid)
    return out


def site_of(runtime):
    return [d for d, _s, _f in os.walk(runtime) if d.endswith("site-packages")][0]


def open_transactions(bundle):
    return Journal(Layout(bundle)).open_transactions()


def leftovers(bundle):
    """What lies in the state folder besides the journal, logs and kept runtimes: nothing may stay that no
    command removes (a stage, the trash)."""
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    found = []
    trash = os.path.join(state, "trash")
    if os.path.isdir(trash):
        found += [os.path.join(trash, n) for n in os.listdir(trash)]
    for name in os.listdir(state) if os.path.isdir(state) else []:
        if name.startswith("tx-") and os.path.isdir(os.path.join(state, name, "stage")):
            found.append(os.path.join(state, name, "stage"))
    return found


def base_env(env, cache):
    return {**os.environ, **env, "ENVDOCTOR_CACHE_DIR": cache, "PYTHONPATH": REPO}


# -- 28.1: read-only torch, a non-root user ------------------------------------------------------

def _read_only(folder):
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o444)
        os.chmod(dirpath, 0o555)


def _give_to_nobody(path):
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, NOBODY, NOBODY)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), NOBODY, NOBODY)


def _bundle_for_nobody(bundle, tmp_path):
    """The bundle and a download cache owned by `nobody` (skipped where nobody cannot run here); returns
    (runtime folder, cache folder)."""
    why = nobody_available()
    if why:
        pytest.skip(why)
    cache = str(tmp_path / "nobody-cache")
    os.makedirs(cache)
    _give_to_nobody(bundle)
    _give_to_nobody(cache)
    return os.path.join(bundle, "runtime"), cache


@pytest.mark.slow
def test_read_only_torch_as_a_non_root_user_leaves_every_inode_of_the_original_unchanged(bundle, env, wheels,
                                                                                       tmp_path):
    """pip cannot unlink a file in a read-only folder of the stage; its error handler then chmods the file
    0o200. On a hard link that reached the user's runtime and was reported as "not changed"."""
    runtime, cache = _bundle_for_nobody(bundle, tmp_path)
    for name in ("torch", "torchaudio"):
        _read_only(os.path.join(site_of(runtime), name))
    before = inodes(runtime)
    child_env = {**base_env(env, cache), "HOME": cache}
    with h.IndexServer(wheels["new"] + wheels["fakedep"]) as index:
        proc = cli(child_env, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json", user=True)
    assert proc.returncode in (2, 3), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Unexpected error" not in proc.stdout, proc.stdout[-3000:]
    tx = Journal(Layout(bundle)).transactions()[-1]
    assert tx.has("staged") and not tx.has("swap-begin"), proc.stdout[-3000:]  # pip ran in the stage
    after = inodes(runtime)
    changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {}  # mode included: nothing in the stage wrote through a shared inode
    assert h.torch_version(bundle) == OLD
    # the read-only stage went to the trash and was deleted there; nothing waits that no command removes
    assert leftovers(bundle) == [] and open_transactions(bundle) == []


def test_tree_stamp_sees_a_mode_change(tmp_path):
    from envdoctor.upgrade.stage import tree_stamp

    (tmp_path / "a").write_text("x")
    before = tree_stamp(str(tmp_path))
    os.chmod(tmp_path / "a", 0o200)
    assert tree_stamp(str(tmp_path)) != before


def test_a_read_only_stage_left_in_the_trash_is_removed(tmp_path):
    """A stage keeps its folders' modes; as a non-root user rmtree could not empty a 0o555 folder."""
    trash = tmp_path / "state" / "trash"
    stage = trash / "x" / "torch"
    stage.mkdir(parents=True)
    (stage / "f.py").write_text("x")
    os.chmod(stage / "f.py", 0o444)
    os.chmod(stage, 0o555)
    why = nobody_available()
    if why:
        pytest.skip(why)
    _give_to_nobody(str(tmp_path / "state"))
    code = (f"import sys; sys.path.insert(0, {REPO!r}); from envdoctor.upgrade.fsutil import empty_trash; "
            f"empty_trash({str(trash)!r})")
    proc = subprocess.run(as_nobody([sys.executable, "-c", code]), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(trash) == []


def test_an_unmovable_runtime_is_refused_before_any_work(bundle, env, index, tmp_path):
    """A runtime/ the user may not rename was found only at the swap, after the whole install, and the
    message sent them to a `recover` with nothing to do."""
    runtime, cache = _bundle_for_nobody(bundle, tmp_path)
    os.chmod(runtime, 0o555)
    proc = cli({**base_env(env, cache), "HOME": cache}, "upgrade", "--root", bundle, "--index-url", index.url,
               "--yes", "--json", user=True)
    out = json.loads(proc.stdout)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    note = out["resolve_note"]  # refused by the preflight, before the question and any work
    assert "cannot be moved as a whole" in note and "Nothing was changed" in note and "recover" not in note
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    assert not os.path.isdir(state) or not [d for d in os.listdir(state) if d.startswith("tx-")]


# -- 25.1: links that lead out of the runtime --------------------------------------------------

def _move_out(runtime, name, outside):
    """Replace site-packages/<name> by a link to a folder outside the runtime."""
    site = site_of(runtime)
    target = os.path.join(outside, name)
    shutil.move(os.path.join(site, name), target)
    os.symlink(target, os.path.join(site, name))
    return target


@pytest.mark.slow
def test_a_linked_torch_folder_is_never_written_through_when_verification_fails(bundle, env, wheels, tmp_path):
    runtime = os.path.join(bundle, "runtime")
    outside = str(tmp_path / "elsewhere")
    os.makedirs(outside)
    target = _move_out(runtime, "torch", outside)
    before_out, before = h.manifest(outside), h.manifest(runtime)
    with h.IndexServer(wheels["broken"] + wheels["fakedep"]) as server:
        proc = cli(base_env(env, str(tmp_path / "cache")), "upgrade", "--root", bundle, "--index-url", server.url,
                   "--yes", "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 2 and out["status"] == "verify-failed", proc.stdout[-2000:] + proc.stderr[-2000:]
    assert h.manifest(outside) == before_out  # pip uninstalled/installed through the link before
    assert h.manifest(runtime) == before and os.path.islink(os.path.join(site_of(runtime), "torch"))
    assert os.readlink(os.path.join(site_of(runtime), "torch")) == target


@pytest.mark.parametrize("linked", ["torch", pytest.param("site-packages", marks=pytest.mark.slow)])
@pytest.mark.slow
def test_an_upgrade_over_a_link_out_replaces_the_link_and_rollback_brings_it_back(bundle, env, index, tmp_path,
                                                                                 linked):
    runtime = os.path.join(bundle, "runtime")
    outside = str(tmp_path / "elsewhere")
    os.makedirs(outside)
    if linked == "torch":
        link = os.path.join(site_of(runtime), "torch")
        _move_out(runtime, "torch", outside)
    else:
        link = site_of(runtime)
        shutil.move(link, os.path.join(outside, "site-packages"))
        os.symlink(os.path.join(outside, "site-packages"), link)
    before_out, before = h.manifest(outside), h.manifest(runtime)
    base = base_env(env, str(tmp_path / "cache"))
    up = cli(base, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    assert h.torch_version(bundle) == NEW
    assert not os.path.islink(link) and os.path.isdir(link)  # the new runtime holds a real folder
    assert h.manifest(outside) == before_out  # the link's target was never touched
    rb = cli(base, "rollback", "--root", bundle, "--json")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    assert h.manifest(runtime) == before and os.path.islink(link)
    assert h.torch_version(bundle) == OLD


def test_a_dangling_link_out_of_site_packages_is_refused_in_the_preflight(bundle, env, index, tmp_path):
    runtime = os.path.join(bundle, "runtime")
    os.symlink(str(tmp_path / "gone" / "pkg"), os.path.join(site_of(runtime), "pkg"))
    base = base_env(env, str(tmp_path / "cache"))
    for lang, words in (("en", "outside the runtime"), ("zh_CN", "运行环境之外")):
        proc = cli({**base, "ENVDOCTOR_LANG": lang}, "upgrade", "--root", bundle, "--index-url", index.url,
                   "--dry-run", "--json", "--lang", lang)
        out = json.loads(proc.stdout)
        assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert words in out["resolve_note"], out["resolve_note"]
    assert not os.path.exists(os.path.join(bundle, ".envdoctor", "upgrade"))


def test_links_inside_the_runtime_name_the_stage_not_the_original(tmp_path):
    from envdoctor.upgrade.stage import HARDLINK, stage_tree

    src = tmp_path / "runtime"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "x.txt").write_text("x")
    os.symlink(str(src / "lib"), str(src / "abs"))  # absolute, into the runtime
    os.symlink("../runtime/lib", str(src / "roundabout"))  # relative, out by name and back in
    os.symlink("lib", str(src / "plain"))
    stage = tmp_path / "stage"
    stage_tree(str(src), str(stage), HARDLINK)
    for name in ("abs", "roundabout", "plain"):
        assert os.path.islink(stage / name)
        assert os.path.realpath(stage / name) == os.path.realpath(stage / "lib"), name
    assert os.readlink(stage / "plain") == "lib"


# -- 28.2: signals during the two-rename swap -------------------------------------------------

SWAP_STEPS = ["swap-begin", "move#1", "move#2", "committed"]


def _signalled_upgrade(bundle, env, index, cache, point, kind, exchange=False):
    fault = {"ENVDOCTOR_FAULT_AT": point, "ENVDOCTOR_FAULT_KIND": kind}
    if not exchange:
        fault["ENVDOCTOR_NO_EXCHANGE"] = "1"
    return cli({**base_env(env, cache), **fault}, "upgrade", "--root", bundle, "--index-url", index.url, "--yes")


@pytest.mark.slow
@pytest.mark.parametrize("point", SWAP_STEPS)
@pytest.mark.parametrize("kind", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_at_every_step_of_the_two_rename_swap_leaves_a_runtime(bundle, env, index, shared_cache, point,
                                                                         kind):
    proc = _signalled_upgrade(bundle, env, index, shared_cache, point, kind)
    assert proc.returncode != -getattr(signal, kind), "the signal ended the process in the middle of the swap"
    assert os.path.isdir(os.path.join(bundle, "runtime"))  # without `recover`
    assert h.torch_version(bundle) == NEW  # the swap was finished (verified candidate), "Done" said
    assert proc.returncode == 0 and "2.7.0" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert open_transactions(bundle) == [] and leftovers(bundle) == []


@pytest.mark.slow
def test_sigterm_between_the_two_renames_leaves_a_runtime(bundle, env, index, shared_cache):
    """The quick one of the matrix above: move#2 is journaled between the two renames."""
    proc = _signalled_upgrade(bundle, env, index, shared_cache, "move#2", "SIGTERM")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert h.torch_version(bundle) == NEW and open_transactions(bundle) == []


@pytest.fixture
def shared_cache(tmp_path_factory):
    return str(tmp_path_factory.getbasetemp() / "lastmile-cache")


@pytest.mark.parametrize("kind", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow)])
@pytest.mark.slow
def test_ctrl_c_or_sigterm_before_the_swap_says_nothing_was_changed(bundle, env, index, shared_cache, kind):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    proc = _signalled_upgrade(bundle, env, index, shared_cache, "installed", kind, exchange=True)
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Cancelled; nothing was changed." in proc.stderr
    assert h.manifest(runtime) == before and open_transactions(bundle) == [] and leftovers(bundle) == []


def test_ctrl_c_after_verification_keeps_the_candidate_like_a_kill_does(bundle, env, index, shared_cache):
    proc = _signalled_upgrade(bundle, env, index, shared_cache, "verified", "SIGINT", exchange=True)
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "is kept" in proc.stderr and "2.7.0" in proc.stderr
    assert h.torch_version(bundle) == OLD
    txs = Journal(Layout(bundle)).transactions()
    assert txs[-1].last_event == "kept"
    again = cli(base_env(env, shared_cache), "upgrade", "--root", bundle, "--index-url", index.url, "--yes",
                "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["result"]["reused"] == txs[-1].txid
    assert h.torch_version(bundle) == NEW


@pytest.mark.slow
def test_ctrl_c_right_after_the_commit_still_says_done(bundle, env, index, shared_cache):
    proc = _signalled_upgrade(bundle, env, index, shared_cache, "committed", "SIGINT", exchange=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "2.7.0" in proc.stdout and h.torch_version(bundle) == NEW


# -- 28.3: a full disk during the swap or recover ----------------------------------------------

@pytest.mark.parametrize("point,exchange", [pytest.param("move#1", True, marks=pytest.mark.slow), ("move#2", False),
                                            pytest.param("committed", True, marks=pytest.mark.slow)])
@pytest.mark.slow
def test_a_full_disk_at_the_swap_says_what_is_in_place_then_recover(bundle, env, index, shared_cache, point,
                                                                     exchange):
    proc = _signalled_upgrade(bundle, env, index, shared_cache, point, "ENOSPC", exchange=exchange)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = proc.stdout + proc.stderr
    assert "Unexpected error" not in text
    assert "full" in text and "Nothing is lost" in text and "Free some space" in text and "recover" in text
    assert os.path.isdir(os.path.join(bundle, "runtime"))  # a runtime is in place at every moment
    assert h.torch_version(bundle) in (OLD, NEW)
    rec = cli({**os.environ, **env}, "recover", "--root", bundle, "--json")
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert open_transactions(bundle) == [] and h.torch_version(bundle) == NEW


@pytest.mark.slow
def test_a_full_disk_during_recover_says_what_is_in_place(bundle, env, index, shared_cache):
    killed = _signalled_upgrade(bundle, env, index, shared_cache, "move#2", "kill")
    assert killed.returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(bundle, "runtime"))  # the gap a power cut leaves
    full = {**os.environ, **env, "ENVDOCTOR_FAULT_AT": "move#1", "ENVDOCTOR_FAULT_KIND": "ENOSPC"}
    rec = cli(full, "recover", "--root", bundle, "--json")
    out = json.loads(rec.stdout)
    assert rec.returncode == 3 and out["error"]["key"] == "upgrade.error.disk_full_new", rec.stdout + rec.stderr
    assert h.torch_version(bundle) == NEW  # the rename went on although its journal line could not be written
    rec = cli({**os.environ, **env}, "recover", "--root", bundle, "--json")
    assert rec.returncode == 0 and open_transactions(bundle) == []


# -- 28.4: a runtime that is a relative link ---------------------------------------------------

def test_a_relative_runtime_link_commits_and_rolls_back(bundle, env, index, shared_cache):
    runtime = os.path.join(bundle, "runtime")
    real = os.path.join(os.path.dirname(bundle), "rt")
    shutil.move(runtime, real)
    os.symlink("../rt", runtime)
    before = h.manifest(real)
    base = base_env(env, shared_cache)
    up = cli(base, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    assert h.torch_version(bundle) == NEW
    listed = cli(base, "rollback", "--root", bundle, "--list", "--json")
    assert json.loads(up.stdout)["result"]["txid"] in listed.stdout, listed.stdout
    rb = cli(base, "rollback", "--root", bundle, "--json")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    assert h.torch_version(bundle) == OLD
    assert os.path.islink(runtime) and os.readlink(runtime) == "../rt"  # the user's own link, as it was
    assert h.manifest(real) == before


@pytest.mark.slow
def test_a_full_disk_during_a_rollback_says_the_kept_runtime_is_in_place(bundle, env, index, shared_cache):
    base = base_env(env, shared_cache)
    up = cli(base, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    rb = cli({**base, "ENVDOCTOR_FAULT_AT": "committed", "ENVDOCTOR_FAULT_KIND": "ENOSPC"}, "rollback", "--root",
             bundle, "--json")
    out = json.loads(rb.stdout)
    assert rb.returncode == 3 and out["error"]["key"] == "upgrade.error.disk_full_restored", rb.stdout + rb.stderr
    assert h.torch_version(bundle) == OLD
    rec = cli(base, "recover", "--root", bundle, "--json")
    assert rec.returncode == 0 and open_transactions(bundle) == []
