"""Crash tests: SIGKILL the upgrade at every journal step and at random moments, then recover.

After `recover` the runtime must start (imports torch, old or new version); after `rollback` (when
the new one stayed) the runtime must be byte-identical to the original (paths, sizes, hashes).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest
import upgrade_helpers as h

from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout

OLD, NEW = "2.6.0+cu124", "2.7.0+cu128"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))




def cli(env, *argv):
    proc = subprocess.run([sys.executable, "-m", "envdoctor", *argv], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300, start_new_session=True)
    return proc


@pytest.fixture
def shared_cache(tmp_path_factory):
    return str(tmp_path_factory.getbasetemp() / "fault-cache")


def child_env_base(env, shared_cache):
    return {**os.environ, **env, "ENVDOCTOR_CACHE_DIR": shared_cache}


def crash_and_recover(bundle, env, index, shared_cache, fault_env, reverse=False):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    child_env = {**os.environ, **env, **fault_env, "ENVDOCTOR_CACHE_DIR": shared_cache}
    proc = cli(child_env, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    killed = proc.returncode == -signal.SIGKILL
    if not fault_env.get("ENVDOCTOR_NO_EXCHANGE"):
        # With the atomic exchange the runtime starts at every moment, even before recover.
        assert h.torch_version(bundle) in (OLD, NEW)
    rec = cli({**os.environ, **env}, "recover", "--root", bundle, "--json", *(["--reverse"] if reverse else []))
    assert rec.returncode == 0, rec.stdout + rec.stderr
    version = h.torch_version(bundle)
    assert version in (OLD, NEW), (fault_env, proc.stdout[-2000:], rec.stdout)
    assert Journal(Layout(bundle)).open_transactions() == []
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    kept = {t.txid for t in Journal(Layout(bundle)).transactions() if t.last_event == "kept"}
    leftovers = [d for d in os.listdir(state) if d.startswith("tx-") and os.path.isdir(os.path.join(state, d, "stage"))
                 and d[3:] not in kept]
    assert leftovers == []  # only a verified candidate (journaled "kept") may wait in its stage
    if kept:
        # killed after verification: the next upgrade swaps the kept candidate in, redoing nothing
        again = cli(child_env_base(env, shared_cache), "upgrade", "--root", bundle, "--index-url", index.url,
                    "--yes", "--json")
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert json.loads(again.stdout)["result"]["reused"] in kept
        version = h.torch_version(bundle)
        assert version == NEW
    assert os.listdir(os.path.join(state, "trash")) == [] if os.path.isdir(os.path.join(state, "trash")) else True
    if version == NEW:
        rb = cli({**os.environ, **env}, "rollback", "--root", bundle, "--json")
        assert rb.returncode == 0, rb.stdout + rb.stderr
    assert h.manifest(runtime) == before
    return killed, version


STEPS = ["begin", "stage-begin", "stage-file#40", "staged", "resolved", "downloaded", "installed", "verified",
         "swap-begin", "move#1", "move#2", "committed"]


@pytest.mark.slow
@pytest.mark.parametrize("point", STEPS)
def test_kill_at_every_journal_step(bundle, env, index, shared_cache, point):
    killed, version = crash_and_recover(bundle, env, index, shared_cache, {"ENVDOCTOR_FAULT_AT": point})
    assert killed
    # Once the swap has begun (journaled with both trees' identities) recover finishes it; a crash
    # after verification keeps the candidate, which the next upgrade swaps in (crash_and_recover runs
    # it); a crash before that leaves the original in place and the stage is discarded.
    swapping = STEPS.index(point) >= STEPS.index("verified")
    assert version == (NEW if swapping else OLD)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["swap-begin", "move#1", "move#2", "committed"])
def test_kill_during_two_rename_swap(bundle, env, index, shared_cache, point):
    """The path Windows takes (no atomic exchange): the runtime may be missing until recover."""
    killed, version = crash_and_recover(bundle, env, index, shared_cache,
                                        {"ENVDOCTOR_FAULT_AT": point, "ENVDOCTOR_NO_EXCHANGE": "1"})
    assert killed and version == NEW


@pytest.mark.slow
@pytest.mark.parametrize("point", ["move#1", "move#2"])
def test_recover_reverse_puts_the_old_runtime_back(bundle, env, index, shared_cache, point):
    killed, version = crash_and_recover(bundle, env, index, shared_cache,
                                        {"ENVDOCTOR_FAULT_AT": point, "ENVDOCTOR_NO_EXCHANGE": "1"}, reverse=True)
    assert killed and version == OLD


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kill_at_random_moments(bundle, env, index, shared_cache, seed):
    delay = random.Random(seed).uniform(0.3, 4.0)
    crash_and_recover(bundle, env, index, shared_cache,
                      {"ENVDOCTOR_FAULT_AFTER_S": f"{delay:.3f}", "ENVDOCTOR_NO_EXCHANGE": str(seed % 2 or "")})


def test_rollback_journaled_kill_then_recover(bundle, env, index, shared_cache):
    """A rollback killed between its two renames is finished by recover; the original comes back.

    A fault fires as its journal record is written, before the step: move#2 is between the renames."""
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    base = {**os.environ, **env, "ENVDOCTOR_CACHE_DIR": shared_cache}
    up = cli(base, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert up.returncode == 0, up.stdout + up.stderr
    rb = cli({**base, "ENVDOCTOR_FAULT_AT": "move#2", "ENVDOCTOR_NO_EXCHANGE": "1"}, "rollback", "--root", bundle)
    assert rb.returncode == -signal.SIGKILL
    assert not os.path.exists(runtime)  # between the two renames: exactly the gap recover closes
    check = cli(base, "check", "--root", bundle, "--no-live", "--json")
    assert "recover" in check.stderr
    rec = cli(base, "recover", "--root", bundle, "--json")
    answer = json.loads(rec.stdout)
    assert answer["recovered"][0]["outcome"] == "rollback-completed"
    assert "new runtime" not in answer["summary"] and "kept runtime is back" in answer["summary"]
    assert h.torch_version(bundle) == OLD
    assert h.manifest(runtime) == before


def test_kill_9_of_envdoctor_alone_leaves_no_process_and_recover_leaves_no_stage(bundle, env, wheels, tmp_path,
                                                                                 shared_cache):
    """kill -9 of envdoctor's own pid (not its group) while a stage child runs (the candidate torch
    sleeps 60 s on import): the child must die with it, and after `recover` neither a process nor a
    stage is left."""
    import time

    from envdoctor.upgrade.swap import processes_using

    slow = h.build_wheel(str(tmp_path / "slow"), "torch", "2.7.0+cu128",
                         h.torch_files("2.7.0+cu128", "12.8", h.ARCHS_NEW, sleep=60), ["fakedep>=1"])
    server = h.IndexServer([slow, wheels["new"][1], *wheels["fakedep"]]).__enter__()
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    child_env = {**os.environ, **env, "ENVDOCTOR_CACHE_DIR": shared_cache}
    proc = subprocess.Popen([sys.executable, "-m", "envdoctor", "upgrade", "--root", bundle, "--index-url",
                             server.url, "--yes", "--json"], env=child_env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    caught = []
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not caught:
        if os.path.isdir(state):
            caught = [u for u in processes_using(state) if not u.startswith(f"{proc.pid} ")]
        time.sleep(0.02)
    assert caught, "no child ran from the stage while the upgrade ran"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    assert processes_using(state) == []  # the children died with envdoctor
    rec = cli({**os.environ, **env}, "recover", "--root", bundle, "--json")
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert processes_using(state) == []
    assert [d for d in os.listdir(state) if d.startswith("tx-") and os.path.isdir(os.path.join(state, d, "stage"))] \
        == []
    assert h.torch_version(bundle) == OLD
    server.__exit__()


def test_stale_stage_from_an_older_crash_is_removed_by_recover(bundle, env):
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    stale = os.path.join(state, "tx-20200101T000000Z-abcdef", "stage")
    os.makedirs(os.path.join(stale, "lib"))
    with open(os.path.join(stale, "lib", "x.py"), "w") as handle:
        handle.write("x = 1\n")
    rec = cli({**os.environ, **env}, "recover", "--root", bundle, "--json")
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert not os.path.exists(stale)
