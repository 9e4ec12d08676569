"""Plans are checked before any work, from metadata only; each wheel's bytes cross the wire once.

Wheels here are the package index's layout: torch named without a local label (its CUDA build is only
in torch/version.py), dependencies such as triton and nvidia-* that a wheelhouse may lack.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main

PAD = 300 * 1024  # big enough that reading metadata with range requests is visibly cheaper than the wheel


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="session")
def plain_wheels(tmp_path_factory):
    """torch 2.7.0 (CUDA 12.8) and 2.14.1 (CUDA 13.0) named as the package index names them."""
    base = str(tmp_path_factory.mktemp("plain"))
    out = {}
    out["torch27"] = h.build_wheel(base, "torch", "2.7.0", h.torch_files("2.7.0", "12.8", h.ARCHS_NEW, padding=PAD,
                                                                          annotated=True), ["fakedep>=1"])
    out["audio27"] = h.build_wheel(base, "torchaudio", "2.7.0", h.audio_files("2.7.0"), ["torch==2.7.0"])
    out["fakedep"] = h.build_wheel(base, "fakedep", "1.0", {"fakedep/__init__.py": b"VALUE = 1\n"})
    big = os.path.join(base, "2141")
    files_2141 = h.torch_files("2.14.1", "13.0", h.ARCHS_NEW, annotated=True)
    out["torch2141"] = h.build_wheel(big, "torch", "2.14.1", files_2141,
                                     ["triton==3.6.0; platform_system == 'Linux'", "cuda-bindings>=13",
                                      "nvidia-cuda-runtime==13.0.96; platform_system == 'Linux'",
                                      "nvidia-cudnn-cu13; platform_system == 'Windows'"])
    out["cpu27"] = h.build_wheel(os.path.join(base, "cpu"), "torch", "2.7.0",
                                 h.torch_files("2.7.0", None, []), ["fakedep>=1"])
    return out


def _folder(tmp_path, *paths):
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    for path in paths:
        shutil.copy(path, str(folder))
    return str(folder)


def test_index_own_cuda_wheel_without_label_is_matched_by_what_it_is(bundle, env, plain_wheels, tmp_path,
                                                                      capsys):
    """The plan wants 2.7.0 cu128; the wheelhouse has `torch-2.7.0` whose torch/version.py says 12.8."""
    house = _folder(tmp_path, plain_wheels["torch27"], plain_wheels["audio27"], plain_wheels["fakedep"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--dry-run")
    assert code == 0, out
    torch = next(w for w in out["resolution"]["wheels"] if w["name"] == "torch")
    assert torch["version"] == "2.7.0" and torch["build"] == "12.8"
    assert out["download_bytes"] == 0 and out["local_bytes"] > PAD  # a wheelhouse is not a download
    assert out["metadata_bytes"] == 0
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--yes")
    assert code == 0, out
    assert out["status"] == "committed"


def test_wheel_of_another_build_is_refused_with_what_it_is(bundle, env, plain_wheels, tmp_path, capsys):
    house = _folder(tmp_path, plain_wheels["cpu27"], plain_wheels["audio27"], plain_wheels["fakedep"])
    before = h.manifest(os.path.join(bundle, "runtime"))
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--dry-run")
    assert code == 2
    missing = [m for m in out["missing"] if m["requirement"].startswith("torch")]
    assert missing and missing[0]["reason"] == "no-build" and "(cpu)" in missing[0]["detail"]
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--yes")
    assert code == 2 and "result" not in out  # never staged
    assert not os.path.exists(os.path.join(bundle, ".envdoctor", "upgrade", "journal.jsonl"))
    assert h.manifest(os.path.join(bundle, "runtime")) == before


def test_torch_2_14_1_from_the_index_wheels_is_refused_in_dry_run_with_every_reason(bundle, env, plain_wheels,
                                                                                    tmp_path, capsys):
    """No torchaudio for 2.14; the wheelhouse lacks triton, cuda-bindings, nvidia-cuda-runtime; the
    wheel is a CUDA 13.0 build that driver 576.02 cannot start."""
    house = _folder(tmp_path, plain_wheels["torch2141"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.14.1", "--wheelhouse", house,
                         "--dry-run")
    assert code == 2
    keys = [b["key"] for b in out["blockers"]]
    assert "no_torchaudio" in keys and "missing" in keys and "override_driver" in keys
    names = " ".join(m["requirement"] for m in out["missing"])
    for name in ("triton", "cuda-bindings", "nvidia-cuda-runtime"):
        assert name in names
    assert "nvidia-cudnn-cu13" not in names  # a Windows-only requirement does not apply on Linux
    assert out["disk_needed"] > 0
    # the real run refuses the same way, before any stage exists
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.14.1", "--wheelhouse", house, "--yes")
    assert code == 2
    assert not os.path.isdir(os.path.join(bundle, ".envdoctor", "upgrade"))


def test_text_output_names_the_missing_wheels(bundle, env, plain_wheels, tmp_path, capsys):
    house = _folder(tmp_path, plain_wheels["torch2141"])
    code = main(["upgrade", "--root", bundle, "--torch", "2.14.1", "--wheelhouse", house, "--dry-run"])
    text = capsys.readouterr().out
    assert code == 2
    assert "triton" in text and "torchaudio" in text and "580.65.06" in text
    assert "Download" not in text  # local files are not a download


@pytest.mark.parametrize("pep658", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["range-requests", "pep658"])
def test_each_wheel_is_served_once_over_loopback(bundle, env, plain_wheels, tmp_path, capsys, pep658):
    files = [plain_wheels["torch27"], plain_wheels["audio27"], plain_wheels["fakedep"]]
    with h.IndexServer(files, pep658=pep658) as server:
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--yes")
        assert code == 0, out
        assert out["status"] == "committed"
        for path in files:
            name = os.path.basename(path)
            size = os.path.getsize(path)
            full_gets = [r for r in server.requests if r[1] == f"/files/{name}" and r[0] == "GET" and not r[2]]
            served = server.wheel_bytes_served(name)
            print(f"bytes served ({'pep658' if pep658 else 'range'}): {name} size={size} served={served}")
            if size > 64 * 1024:
                assert len(full_gets) == 1, server.requests
                # reading its metadata and torch/version.py (no label: the build is read from the wheel,
                # PEP 658 or not) costs at most the 64 KiB tail and one member on top of the wheel
                assert size <= served <= size + 64 * 1024 + 4096, (name, served, size)
            else:
                assert served == size, (name, served, size)  # a small wheel came whole once, and was kept
        if pep658:
            assert any(r[1].endswith(".whl.metadata") for r in server.requests)


def test_find_links_flat_page_and_folder(bundle, env, plain_wheels, tmp_path, capsys):
    files = [plain_wheels["torch27"], plain_wheels["audio27"], plain_wheels["fakedep"]]
    with h.IndexServer(files) as server:
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--find-links", server.flat_url, "--dry-run")
        assert code == 0, out
        assert sorted(w["name"] for w in out["resolution"]["wheels"]) == ["fakedep", "torch", "torchaudio"]
        assert [n["key"] for n in out["check_notes"]] == ["unhashed"]  # a flat page publishes no hashes
        assert not any(r[1].startswith("/simple") for r in server.requests)
    folder = _folder(tmp_path, *files)
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--find-links", folder, "--dry-run")
    assert code == 0, out
    assert out["download_bytes"] == 0
