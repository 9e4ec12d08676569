"""Disk that somebody frees (issue 28 item 5): every kept thing is listed with its size, a passing upgrade
or rollback keeps at most N runtimes set aside (default 1), orphaned candidates are listed and pruned,
and the end of each change says how much is kept and how to free it. Real venv runtimes, real pip."""

from __future__ import annotations

import json
import os

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def tx_dirs(bundle):
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    return sorted(d for d in os.listdir(state) if d.startswith("tx-"))


@pytest.mark.slow
def test_upgrade_rollback_cycles_keep_one_runtime_and_say_how_to_free_it(bundle, env, index, capsys):
    for _cycle in range(2):
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes")
        assert code == 0 and out["status"] == "committed", out["summary"]
        assert out["kept"]["runtimes"] == 1 and "--prune --keep 0" in out["summary"]
        assert out["kept"]["cache_bytes"] > 0  # the downloaded wheels, said with where they are
        code, out = run_json(capsys, "rollback", "--root", bundle)
        assert code == 0, out
        assert len(tx_dirs(bundle)) == 1, tx_dirs(bundle)  # before: one more runtime per step
    code, listing = run_json(capsys, "rollback", "--root", bundle, "--list")
    assert [t["kind"] for t in listing["kept"]] == ["rejected"]
    row = listing["kept"][0]
    assert row["size"] > 0 and 0 < row["frees"] <= row["size"]  # shares its unchanged files' inodes
    assert {i["kind"] for i in listing["stored"]["items"]} == {"rejected", "cache"}
    assert main(["rollback", "--root", bundle, "--list"]) == 0  # the terminal view of the same
    text = " ".join(capsys.readouterr().out.split())
    assert "deleting it frees" in text and "download cache" in text and "--prune --keep 0" in text


@pytest.mark.slow
def test_keep_more_when_asked(bundle, env, index, capsys):
    for _cycle in range(2):
        assert run_json(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--force",
                        "--keep", "3")[0] == 0
        assert run_json(capsys, "rollback", "--root", bundle, "--keep", "3")[0] == 0
    # each rollback restores the backup and sets the upgraded runtime aside: two of them, both kept
    assert len(tx_dirs(bundle)) == 2


@pytest.mark.slow
def test_an_orphaned_candidate_is_listed_and_pruned(bundle, env, index, monkeypatch, capsys, tmp_path):
    """A candidate kept because the runtime was busy, then the runtime changed: no upgrade can use it."""
    from envdoctor.upgrade import guards, transaction

    real = transaction.processes_using
    monkeypatch.setattr(transaction, "processes_using", lambda path: ["4242 (runtime/bin/python webui.py)"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes")
    assert code == 3 and out["status"] == "kept"
    assert "candidate" in {i["kind"] for i in out["kept"]["items"]}
    monkeypatch.setattr(transaction, "processes_using", real)
    monkeypatch.setattr(guards, "processes_using", real)
    # the user changes the runtime by hand (pip install into it)
    extra = h.build_wheel(str(tmp_path / "x"), "extrapkg", "1.0", {"extrapkg/__init__.py": b""})
    h.pip_install(os.path.join(bundle, "runtime", "bin", "python"), [extra])
    code, listing = run_json(capsys, "rollback", "--root", bundle, "--list")
    orphans = [i for i in listing["stored"]["items"] if i["kind"] == "orphan"]
    assert len(orphans) == 1 and orphans[0]["size"] > 0
    # check and recover say so too (they said nothing before)
    main(["check", "--root", bundle, "--no-live", "--json"])
    assert "will never be used" in capsys.readouterr().err
    code, out = run_json(capsys, "recover", "--root", bundle)
    assert code == 0 and "will never be used" in out["summary"] and "--prune" in out["summary"]
    code, out = run_json(capsys, "rollback", "--root", bundle, "--prune")
    assert code == 0 and out["orphans"] == [orphans[0]["txid"]]
    assert tx_dirs(bundle) == []
    assert Journal(Layout(bundle)).find(orphans[0]["txid"]).last_event == "aborted"


def test_partial_downloads_of_finished_runs_are_listed_and_pruned(bundle, env, capsys):
    partial = os.path.join(env["ENVDOCTOR_CACHE_DIR"], "wheels", "unhashed-999999999")
    os.makedirs(partial)
    with open(os.path.join(partial, "torch-2.7.0-py3-none-any.whl"), "wb") as handle:
        handle.write(b"x" * 5000)
    os.makedirs(os.path.join(bundle, ".envdoctor", "upgrade"))
    code, listing = run_json(capsys, "rollback", "--root", bundle, "--list")
    assert [(i["kind"], i["size"]) for i in listing["stored"]["items"]] == [("partial", 5000)]
    code, out = run_json(capsys, "rollback", "--root", bundle, "--prune")
    assert code == 0 and not os.path.exists(partial)


def test_the_terminal_view_of_an_upgrade_says_what_is_kept(bundle, env, index, capsys):
    assert main(["upgrade", "--root", bundle, "--index-url", index.url, "--yes"]) == 0
    captured = capsys.readouterr()
    out, err = " ".join(captured.out.split()), " ".join(captured.err.split())
    assert "Checking the current runtime the same way" in err  # the baseline step is shown
    assert "Kept on disk: 1 runtime" in out and "--prune --keep 0" in out
