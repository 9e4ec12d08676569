"""Verification that blames the right thing (issue 28 item 8, issue 24 item 7): the old runtime is checked
the same way first; what it already failed is "already broken before the upgrade" and does not reject the
stage; a new failure does, with its real cause."""

from __future__ import annotations

import json
import os

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main
from envdoctor.upgrade.verify import BROKEN_BEFORE, VerifyStep, _fix_for, against_baseline


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_failure_the_old_runtime_had_is_not_a_rejection():
    error = "RuntimeError: Couldn't find appropriate backend"
    step = VerifyStep("app", "failed", "torchaudio.load: " + error, "upgrade.fix.audio_backend",
                      problems=(("torchaudio.load: " + error, error),))
    before = {"app": [["torchaudio.load: " + error, error]]}
    judged = against_baseline(step, before)
    assert judged.status == BROKEN_BEFORE and "appropriate backend" in judged.before and not judged.fix
    # a new failure beside an old one: rejected, for the new one only
    step = VerifyStep("imports", "failed", "...", problems=(
        ("gradio: ModuleNotFoundError: No module named 'gradio'", "ModuleNotFoundError: No module named 'gradio'"),
        ("torchaudio: OSError: libcudnn.so.#: cannot open", "OSError: libcudnn.so.9: cannot open shared object file")))
    judged = against_baseline(step, {"imports": [["gradio: ModuleNotFoundError: No module named 'gradio'", "x"]]})
    assert judged.status == "failed" and "gradio" not in judged.detail and "libcudnn" in judged.detail
    assert judged.fix == "upgrade.fix.cuda_library" and dict(judged.fix_params) == {"library": "libcudnn.so.9"}


def test_the_same_module_failing_for_another_reason_is_a_new_failure():
    from envdoctor.upgrade.verify import _problems

    old = _problems({"torchaudio": {"error": "ModuleNotFoundError: No module named 'torchaudio'"}})
    new = _problems({"torchaudio": {"error": "ImportError: libtorchaudio.so: undefined symbol: _ZN3c10"}})
    step = VerifyStep("imports", "failed", "...", problems=new)
    assert against_baseline(step, {"imports": [list(p) for p in old]}).status == "failed"
    # the same failure in another transaction's stage (another folder, other numbers) still matches
    a = _problems({"x": {"error": "OSError: /r/.envdoctor/upgrade/tx-20261207T1Z-ab12cd/stage/x.so.12: bad"}})
    b = _problems({"x": {"error": "OSError: /r/.envdoctor/upgrade/tx-20261208T2Z-ff00ee/stage/x.so.12: bad"}})
    assert a[0][0] == b[0][0]


def test_the_advice_names_the_real_cause():
    assert _fix_for({"torchaudio.load": {"error": "RuntimeError: Couldn't find appropriate backend to handle uri "
                                                  "x.wav and format None."}})[0] == "upgrade.fix.audio_backend"
    assert _fix_for({"torchaudio.load": {"error": "ModuleNotFoundError: No module named 'scipy.io'"}}) == \
        ("upgrade.fix.missing_module", (("module", "scipy"),))
    assert _fix_for({"torchaudio.load": {"error": "ImportError: TorchCodec is required for load_with_torchcodec"}}
                    )[0] == "upgrade.fix.torchcodec"
    assert _fix_for({"torchaudio": {"error": "OSError: libtorchaudio.so: undefined symbol: _ZN3c10"}}
                    )[0] == "upgrade.fix.cuda_library"
    assert _fix_for({"torchaudio.load": {"error": "RuntimeError: torchaudio version mismatch with torch"}}
                    )[0] == "upgrade.fix.torchaudio"


NO_BACKEND_AUDIO = '''import torch
__version__ = "{full}"
def load(path):
    raise RuntimeError("Couldn't find appropriate backend to handle uri %s and format None." % path)
'''


@pytest.mark.slow
def test_upgrade_of_a_half_broken_bundle_is_not_rejected_for_what_was_broken(bundle, env, wheels, tmp_path,
                                                                              capsys):
    """The bundle has a package whose dependency is missing (pip check fails before and after): the
    upgrade commits and says so; before, it was rejected at pip-check."""
    python = os.path.join(bundle, "runtime", "bin", "python")
    half = h.build_wheel(str(tmp_path / "half"), "halfpkg", "1.0", {"halfpkg/__init__.py": b""}, ["absentdep>=1"])
    h.pip_install(python, [half])
    with h.IndexServer(wheels["new"] + wheels["fakedep"]) as server:
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--yes")
    assert code == 0, out["summary"]
    assert out["status"] == "committed"
    steps = {s["name"]: s for s in out["result"]["verify"]["steps"]}
    assert steps["pip-check"]["status"] == BROKEN_BEFORE and "absentdep" in steps["pip-check"]["before"]
    assert "Already broken before the upgrade" in out["summary"] and "absentdep" in out["summary"]


@pytest.mark.slow
def test_a_new_audio_failure_is_rejected_with_its_real_cause(bundle, env, tmp_path, capsys):
    base = str(tmp_path / "w")
    full = "2.7.0+cu128"
    h.build_wheel(base, "torch", full, h.torch_files(full, "12.8", h.ARCHS_NEW))
    h.build_wheel(base, "torchaudio", full, {"torchaudio/__init__.py": NO_BACKEND_AUDIO.format(full=full).encode()},
                  ["torch==2.7.0"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", base, "--yes")
    assert code == 2 and out["status"] == "verify-failed", out["summary"]
    failed = next(s for s in out["result"]["verify"]["steps"] if s["status"] == "failed")
    assert failed["name"] == "app" and failed["fix"] == "upgrade.fix.audio_backend"
    assert "install soundfile" in out["summary"] and "built for this exact torch" not in out["summary"]


def test_the_old_runtime_is_checked_once_per_state(tmp_path):
    """Cached by the runtime's stamp: the second upgrade of an unchanged runtime does not run it again."""
    import sys

    from envdoctor.upgrade.verify import baseline

    first = baseline(sys.executable, ["envdoctor_no_such_module"], [], None, key="stamp-1",
                     cache_dir=str(tmp_path))
    assert [what for what, _e in first["imports"]] == [
        "envdoctor_no_such_module: ModuleNotFoundError: No module named 'envdoctor_no_such_module'"]
    # same state: answered from the cache (this interpreter does not exist)
    assert baseline("/nonexistent/python", ["envdoctor_no_such_module"], [], None, key="stamp-1",
                    cache_dir=str(tmp_path)) == first
    # another state: checked again
    assert baseline("/nonexistent/python", ["envdoctor_no_such_module"], [], None, key="stamp-2",
                    cache_dir=str(tmp_path)) != first
