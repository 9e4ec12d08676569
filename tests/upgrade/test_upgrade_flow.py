"""End to end through the CLI: real venv runtime, real pip, a real index on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, (json.loads(out) if "--json" in argv and out.strip() else out)


def torch_version(root):
    python = os.path.join(root, "runtime", "bin", "python")
    out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True,
                         timeout=60)
    return out.stdout.strip() if out.returncode == 0 else None


def test_dry_run_shows_plan_and_sizes_without_changing_anything(bundle, env, index, capsys):
    before = h.manifest(os.path.join(bundle, "runtime"))
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--dry-run", "--index-url", index.url, "--json")
    assert code == 0, out
    assert out["status"] == "upgrade"
    assert out["plan"]["target"]["torch"] == "2.7.0+cu128"
    assert out["plan"]["target"]["variant"] == "cu128"
    assert out["resolution"], out.get("resolve_note")
    names = sorted(w["name"] for w in out["resolution"]["wheels"])
    assert names == ["fakedep", "torch", "torchaudio"]
    sizes = {w["filename"]: w["size"] for w in out["resolution"]["wheels"]}
    for path in h.IndexServer([]).files or index.files.values():
        if os.path.basename(path) in sizes:
            assert sizes[os.path.basename(path)] == os.path.getsize(path)
    assert out["disk_needed"] > 0
    assert h.manifest(os.path.join(bundle, "runtime")) == before


def test_upgrade_then_rollback_restores_a_byte_identical_runtime(bundle, env, index, wheels, capsys):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    assert torch_version(bundle) == "2.6.0+cu124"
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert code == 0, json.dumps(out)[-3000:]
    assert out["status"] == "committed"
    steps = out["result"]["verify"]["steps"]
    assert [s["status"] for s in steps][:3] == ["ok", "ok", "ok"]
    assert "GPU 0: native (" in steps[1]["detail"] and "live" in steps[1]["detail"]
    if wheels["fatbin"] and importlib.util.find_spec("envdoctor.probes.fatbin"):
        assert "scan" in steps[1]["detail"]  # the nvcc-built fat binary was read in the stage
    assert torch_version(bundle) == "2.7.0+cu128"
    # simulated GPUs cannot run kernels: the final line says the GPU smoke test did not run
    assert "Not tested on a GPU" in out["summary"] and "simulated" in out["summary"]
    with open(out["result"]["log"], encoding="utf-8") as handle:  # the whole transaction, beside the journal
        log = handle.read()
    assert os.path.dirname(os.path.dirname(out["result"]["log"])) == os.path.join(bundle, ".envdoctor", "upgrade")
    for expected in ("[begin]", "[staged]", "--- pip install ---", "Successfully installed", "verify app: ok",
                     "torchaudio.load", "[committed]", "sha256="):
        assert expected in log, expected
    # the new runtime's console scripts name the final path, not the stage's
    code, listing = run_cli(capsys, "rollback", "--root", bundle, "--list", "--json")
    assert [t["kind"] for t in listing["kept"]] == ["backup"]
    assert listing["kept"][0]["torch"] == "2.6.0+cu124"
    code, out = run_cli(capsys, "rollback", "--root", bundle, "--json")
    assert code == 0, out
    assert out["seconds"] < 1.0 and out["torch"] == "2.6.0+cu124"
    assert torch_version(bundle) is not None
    # torch_version() ran the restored interpreter: compare without the .pyc files that run wrote
    after = {k: v for k, v in h.manifest(runtime).items() if "__pycache__" not in k}
    assert after == {k: v for k, v in before.items() if "__pycache__" not in k}


@pytest.mark.slow
def test_original_untouched_after_stage_install_verify(bundle, env, index, capsys):
    """The hard-link staging must never write through to the original (manifest incl. .pyc files)."""
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json",
                        "--stage-method", "hardlink")
    assert code == 0, out
    assert out["result"]["stage"]["linked"] > 0
    backup = out["result"]["backup"]
    assert h.manifest(backup) == before


def test_candidate_that_fails_verification_is_never_swapped(bundle, env, wheels, capsys):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    with h.IndexServer(wheels["broken"] + wheels["fakedep"]) as server:
        code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--yes", "--json")
    assert code == 2, out
    assert out["status"] == "verify-failed"
    assert "libcudnn missing" in json.dumps(out["result"]["verify"])
    assert h.manifest(runtime) == before
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    assert [d for d in os.listdir(state) if d.startswith("tx-")] == []


@pytest.mark.slow
def test_stage_whose_torchaudio_cannot_load_audio_is_refused_with_the_fix(bundle, env, wheels, capsys):
    """torchaudio >= 2.9 without TorchCodec imports fine but cannot load a WAV: caught before the swap."""
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    with h.IndexServer(wheels["nocodec"] + wheels["fakedep"]) as server:
        code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--yes", "--json")
    assert code == 2, out
    failed = [s for s in out["result"]["verify"]["steps"] if s["status"] == "failed"]
    assert failed[0]["name"] == "app" and "TorchCodec" in failed[0]["detail"]
    assert failed[0]["fix"] == "upgrade.fix.torchcodec" and "torchcodec" in out["summary"]
    assert h.manifest(runtime) == before


@pytest.mark.slow
def test_candidate_without_native_kernels_is_rejected(bundle, env, wheels, capsys):
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    with h.IndexServer(wheels["oldarch"] + wheels["fakedep"]) as server:
        code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--yes", "--json")
    assert code == 2, out
    failed = [s for s in out["result"]["verify"]["steps"] if s["status"] == "failed"]
    assert failed[0]["name"] == "check"
    assert h.manifest(runtime) == before


def test_driver_too_old_says_which_driver(bundle, env, monkeypatch, capsys):
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "560.35@12.6")
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--dry-run", "--json")
    assert code == 2
    assert out["status"] == "driver-too-old"
    assert out["plan"]["driver_needed"] == "570.26"
    assert "570.26" in out["summary"]


@pytest.mark.slow
def test_wheelhouse_offline(bundle, env, wheels, tmp_path, capsys):
    house = tmp_path / "house"
    house.mkdir()
    for path in wheels["new"] + wheels["fakedep"]:
        os.link(path, house / os.path.basename(path))
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--wheelhouse", str(house), "--yes", "--json")
    assert code == 0, out
    assert torch_version(bundle) == "2.7.0+cu128"


def test_in_use_runtime_is_refused(bundle, env, index, capsys):
    python = os.path.join(bundle, "runtime", "bin", "python")
    holder = subprocess.Popen([python, "-c", "import time; time.sleep(60)"])
    try:
        code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    finally:
        holder.kill()
        holder.wait()
    assert code == 3
    assert out["error"]["key"] == "upgrade.error.in_use"
    assert str(holder.pid) in out["error"]["message"]


def test_interrupted_transaction_is_reported_by_check(bundle, env, index, capsys):
    from envdoctor.upgrade.journal import Journal
    from envdoctor.upgrade.layout import Layout

    Journal(Layout(bundle)).append("20260101T000000Z-abcdef", "begin", kind="upgrade")
    main(["check", "--root", bundle, "--no-live", "--json"])
    err = capsys.readouterr().err
    assert "interrupted" in err and "recover" in err
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert code == 3 and out["error"]["key"] == "upgrade.error.interrupted"
    code, out = run_cli(capsys, "recover", "--root", bundle, "--json")
    assert out["recovered"][0]["outcome"] == "discarded"
    assert sys.executable  # keep the import used


@pytest.mark.slow
def test_rollback_to_a_rejected_runtime_and_prune(bundle, env, index, capsys):
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert code == 0, out
    code, out = run_cli(capsys, "rollback", "--root", bundle, "--json")
    assert code == 0 and torch_version(bundle) == "2.6.0+cu124"
    code, again = run_cli(capsys, "rollback", "--root", bundle, "--json")  # a second rollback: points at --to
    assert code == 3 and again["error"]["key"] == "upgrade.error.no_backup"
    assert "--to" in again["error"]["message"] and "(rejected)" in again["error"]["message"]
    code, listing = run_cli(capsys, "rollback", "--root", bundle, "--list", "--json")
    assert [(t["kind"], t["torch"]) for t in listing["kept"]] == [("rejected", "2.7.0+cu128")]
    code, out = run_cli(capsys, "rollback", "--root", bundle, "--to", listing["kept"][0]["txid"], "--json")
    assert code == 0 and torch_version(bundle) == "2.7.0+cu128"
    code, out = run_cli(capsys, "rollback", "--root", bundle, "--prune", "--keep", "0", "--json")
    assert out["left"] == 0 and len(out["pruned"]) == 1
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    assert [d for d in os.listdir(state) if d.startswith("tx-")] == []  # no empty tx-* folders left
    code, out = run_cli(capsys, "rollback", "--root", bundle, "--json")
    assert code == 3 and out["error"]["key"] == "upgrade.error.nothing_kept"
    assert torch_version(bundle) == "2.7.0+cu128"


def test_not_enough_space_stops_before_anything_is_written(bundle, env, index, monkeypatch, capsys):
    import shutil as real_shutil

    from envdoctor.upgrade import transaction

    usage = real_shutil.disk_usage(bundle)
    monkeypatch.setattr(transaction.shutil, "disk_usage", lambda p: usage._replace(free=10 << 20))
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert code == 3 and out["error"]["key"] == "upgrade.error.no_space"
    assert "MB" in out["error"]["message"]
    assert h.manifest(runtime) == before
    state = os.path.join(bundle, ".envdoctor", "upgrade")
    assert [d for d in os.listdir(state) if d.startswith("tx-")] == []


@pytest.mark.slow
def test_a_rename_that_fails_during_the_swap_is_undone(bundle, env, index, monkeypatch, capsys):
    """As on Windows when a file in runtime/ is open: the swap stops, is reversed, nothing is lost."""
    from envdoctor.upgrade import swap
    from envdoctor.upgrade.journal import Journal
    from envdoctor.upgrade.layout import Layout

    monkeypatch.setenv("ENVDOCTOR_NO_EXCHANGE", "1")
    runtime = os.path.join(bundle, "runtime")
    real = swap.rename_durable

    def refuse(src, dst):
        if src == runtime:
            raise PermissionError(13, "The process cannot access the file because it is being used", src)
        real(src, dst)

    monkeypatch.setattr(swap, "rename_durable", refuse)
    before = h.manifest(runtime)
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    # undone at once: the message no longer sends the user to a `recover` with nothing to do (issue 28)
    assert code == 3 and out["error"]["key"] == "upgrade.error.rename_failed_undone"
    assert "recover`" not in out["error"]["message"] and "nothing to recover" in out["error"]["message"]
    assert h.manifest(runtime) == before
    txs = Journal(Layout(bundle)).transactions()
    assert txs[-1].last_event == "reversed" and txs[-1].has("swap-begin")


@pytest.mark.slow
def test_verified_candidate_survives_a_refused_swap_and_is_swapped_in_later(bundle, env, index, monkeypatch,
                                                                           capsys):
    """The WebUI starts while the upgrade installs: the swap is refused, the verified candidate is kept,
    and the next `upgrade` swaps it in without staging, downloading or installing again."""
    from envdoctor.upgrade import guards, transaction
    from envdoctor.upgrade.journal import Journal
    from envdoctor.upgrade.layout import Layout

    real = transaction.processes_using
    calls = []

    def webui_starts_midway(path):
        calls.append(path)
        return real(path) if len(calls) == 1 else ["4242 (runtime/bin/python webui.py)"]

    monkeypatch.setattr(guards, "processes_using", webui_starts_midway)  # asked before staging
    monkeypatch.setattr(transaction, "processes_using", webui_starts_midway)  # asked again at the swap
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert code == 3 and out["status"] == "kept", out
    assert "4242" in out["summary"] and h.manifest(runtime) == before
    monkeypatch.setattr(guards, "processes_using", real)
    monkeypatch.setattr(transaction, "processes_using", real)
    served_before = len(index.requests)
    code, out = run_cli(capsys, "upgrade", "--root", bundle, "--index-url", index.url, "--yes", "--json")
    assert code == 0 and out["status"] == "committed", out
    assert out["result"]["reused"] and torch_version(bundle) == "2.7.0+cu128"
    tx = Journal(Layout(bundle)).find(out["result"]["txid"])
    assert not tx.has("staged") and not tx.has("installed")  # no work redone
    assert not any(r[1].startswith("/files/") and r[0] == "GET" and not r[2]
                   for r in index.requests[served_before:])  # no wheel fetched again
