"""What the plan says about the user's input and the wheel source, before any work (issue 28: minors, 7).

Each test runs the CLI (dry run or a real run) against real wheels in a folder or on a loopback server.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import upgrade_helpers as h

from envdoctor.cli.main import main
from envdoctor.errors import UsageError
from envdoctor.matrix.loader import load_matrix
from envdoctor.upgrade.plan import PlanFacts, PlanGpu, PlanOptions, make_plan

BLACKWELL = PlanGpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0))


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _folder(tmp_path, *paths, name="wheelhouse"):
    folder = tmp_path / name
    folder.mkdir()
    for path in paths:
        shutil.copy(path, str(folder))
    return str(folder)


# -- --torch as the user types it ----------------------------------------------------------------

def test_torch_that_is_no_version_is_a_clear_usage_error(bundle, env, capsys):
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "abc", "--dry-run")
    assert code == 3
    assert out["error"]["key"] == "upgrade.error.bad_torch_version"
    assert "abc" in out["error"]["message"] and "Unexpected" not in out["error"]["message"]


def test_torch_with_a_build_label_is_honoured(bundle, env, capsys):
    """`--torch 2.7.0+cu126` plans cu126 (it planned the matrix's cu128 before, silently)."""
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.7.0+cu126", "--dry-run",
                         "--wheelhouse", os.devnull + "-none")
    assert out["plan"]["target"]["torch"] == "2.7.0+cu126" and out["plan"]["target"]["variant"] == "cu126"
    # cu126 has no sm_120 kernels: said, not hidden
    assert any(n["key"] == "override_not_native" for n in out["plan"]["notes"])


def test_torch_label_that_contradicts_variant_is_refused():
    from envdoctor.upgrade.plan import parse_torch_option

    with pytest.raises(UsageError) as info:
        parse_torch_option("2.8.0+cu126", "cu128")
    assert info.value.key == "upgrade.error.torch_variant_conflict"
    assert parse_torch_option("2.8.0+cu126", None) == ("2.8.0", "cu126")
    assert parse_torch_option("2.8", None) == ("2.8", None)


# -- what the source really holds ----------------------------------------------------------------

@pytest.fixture(scope="module")
def odd_wheels(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("odd"))
    out = {}
    win = os.path.join(base, "win")
    out["win"] = [h.build_wheel(win, "torch", "2.7.0+cu128", h.torch_files("2.7.0+cu128", "12.8", h.ARCHS_NEW),
                                tag="cp311-cp311-win_amd64"),
                  h.build_wheel(win, "torchaudio", "2.7.0+cu128", h.audio_files("2.7.0+cu128"), ["torch==2.7.0"])]
    # a CPU build under a CUDA name: its own torch/version.py says cuda = None
    out["mislabeled"] = [h.build_wheel(os.path.join(base, "mis"), "torch", "2.7.0+cu128",
                                       h.torch_files("2.7.0+cu128", None, [])),
                         h.build_wheel(os.path.join(base, "mis"), "torchaudio", "2.7.0+cu128",
                                       h.audio_files("2.7.0+cu128"), ["torch==2.7.0"])]
    out["cu129"] = h.build_set(os.path.join(base, "cu129"), "2.8.0", "cu129", "12.9", h.ARCHS_NEW, dep="fakedep>=1")
    out["fakedep"] = h.build_wheel(os.path.join(base, "dep"), "fakedep", "1.0", {"fakedep/__init__.py": b"V = 1\n"})
    return out


def test_only_windows_wheels_are_named_as_such(bundle, env, odd_wheels, tmp_path, capsys):
    house = _folder(tmp_path, *odd_wheels["win"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--dry-run")
    assert code == 2
    torch = next(m for m in out["missing"] if m["requirement"].startswith("torch=="))
    assert torch["reason"] == "platform" and "win_amd64" in torch["detail"]
    assert "only wheels for other platforms" in out["summary"] and "win_amd64" in out["summary"]


def test_cpu_wheel_under_a_cuda_name_blames_the_mirror(bundle, env, odd_wheels, tmp_path, capsys):
    with h.IndexServer(odd_wheels["mislabeled"] + [odd_wheels["fakedep"]]) as server:
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--dry-run")
    assert code == 2
    keys = [b["key"] for b in out["blockers"]]
    assert "mislabeled" in keys and "missing" not in keys
    assert "serves a wrong file" in out["summary"] and "torch-2.7.0+cu128" in out["summary"]


def test_torch_version_from_a_source_with_only_another_build_takes_that_build(bundle, env, odd_wheels, tmp_path,
                                                                             capsys):
    """`--torch 2.8.0` (the matrix's default build: cu128) from a wheelhouse that holds only cu129."""
    house = _folder(tmp_path, *odd_wheels["cu129"], odd_wheels["fakedep"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.8.0", "--wheelhouse", house,
                         "--dry-run")
    assert code == 0, out["summary"]
    assert out["plan"]["target"]["torch"] == "2.8.0+cu129"
    assert out["plan"]["notes"][0]["key"] == "variant_from_source"
    # --variant names the build: then it is what the user gets (refused here, nothing else tried)
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.8.0", "--variant", "cu128",
                         "--wheelhouse", house, "--dry-run")
    assert code == 2 and out["plan"]["target"]["variant"] == "cu128"


def test_dry_run_refuses_a_state_folder_on_another_filesystem(bundle, env, tmp_path, capsys):
    """The run refuses it when it makes the stage; the dry run says it first (and exits 2)."""
    other = "/dev/shm"
    if not os.path.isdir(other) or os.stat(other).st_dev == os.stat(bundle).st_dev:
        pytest.skip("no second filesystem here")
    away = os.path.join(other, f"envdoctor-test-{os.getpid()}-{tmp_path.name}")
    os.makedirs(away)
    try:
        os.symlink(away, os.path.join(bundle, ".envdoctor"))
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--dry-run", "--wheelhouse", str(tmp_path))
        assert code == 2
        assert "other_filesystem" in [b["key"] for b in out["blockers"]]
        assert "another filesystem" in out["summary"]
    finally:
        shutil.rmtree(away, ignore_errors=True)


def test_dry_run_with_an_unreachable_index_does_not_exit_0(bundle, env, capsys):
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--dry-run", "--index-url", "http://127.0.0.1:9/simple/")
    assert code == 3, out
    assert out["resolve_note"] and "127.0.0.1:9" in out["resolve_note"]


# -- torchaudio >= 2.9 reads audio through TorchCodec (companions.yaml) --------------------------

TORCH_29 = """
  - series: "2.9"
    python: {min: "3.9", max: "3.14"}
    releases: [{torch: "2.9.1", torchaudio: "2.9.1"}]
    default_variant: cu128
    variants:
      - name: cu128
        cuda: "12.8"
        index_url: "https://download.pytorch.org/whl/cu128"
        archs: {linux: {sass: [sm_75, sm_80, sm_86, sm_90, sm_100, sm_120]}}
        source: test
    source: test
"""

COMPANIONS = """schema_version: 1
audio_io:
  - {torchaudio_min: "2.0", torchaudio_max: "2.8", backend: builtin, source: test}
  - {torchaudio_min: "2.9", backend: torchcodec, error_signatures: ["TorchCodec is required for"], source: test}
torchcodec:
  - {torchcodec: "0.9", torch: "2.9", python: ">=3.10,<=3.14", ffmpeg_majors: [4, 5, 6, 7, 8], source: &primary
     {kind: primary, url: "https://example.invalid/test", says: "test"}, verified: true}
  - {torchcodec: "0.8", torch: "2.9", python: ">=3.10,<=3.13", source: *primary, verified: true}
"""


def codec_matrix(directory):
    with open(os.path.join(h.MATRIX_DIR, "torch.yaml"), encoding="utf-8") as handle:
        torch = handle.read()
    return h.write_matrix(directory, {"torch.yaml": torch.rstrip() + "\n" + TORCH_29, "companions.yaml": COMPANIONS})


def _facts(python):
    return PlanFacts("linux", python, (BLACKWELL,), "576.02", (("torch", "2.6.0+cu124"),))


def test_plan_adds_torchcodec_and_says_where_ffmpeg_comes_from(tmp_path):
    matrix = load_matrix(codec_matrix(str(tmp_path / "m")))
    plan = make_plan(_facts("3.11.9"), matrix, PlanOptions(torch="2.9.1"))
    assert plan.target.requirements() == ("torch==2.9.1+cu128", "torchaudio==2.9.1+cu128", "torchcodec==0.9.*")
    keys = [n.key for n in plan.notes]
    assert "torchcodec_planned" in keys and "ffmpeg_linux" in keys and not plan.blockers


def test_plan_refuses_a_torchaudio_that_cannot_read_audio_on_this_python(tmp_path):
    matrix = load_matrix(codec_matrix(str(tmp_path / "m")))
    plan = make_plan(_facts("3.9.13"), matrix, PlanOptions(torch="2.9.1"))
    assert [b.key for b in plan.blockers] == ["no_torchcodec"]
    # never chosen unasked: the automatic plan stays on a torchaudio that reads audio itself
    auto = make_plan(_facts("3.9.13"), matrix)
    assert auto.target.torch.startswith(("2.7", "2.8")) and not auto.target.companions


CODEC_AUDIO = '''import torch
__version__ = "{full}"
def load(path):
    try:
        import torchcodec  # noqa: F401  (as torchaudio >= 2.9: no TorchCodec, no audio)
    except ImportError:
        raise ImportError("TorchCodec is required for load_with_torchcodec. Please install torchcodec.")
    import wave
    with wave.open(path, "rb") as handle:
        frames = handle.getnframes()
        rate = handle.getframerate()
    class _Shape:
        shape = (1, frames)
    return _Shape(), rate
'''


@pytest.mark.slow
def test_upgrade_to_a_torchcodec_torchaudio_installs_torchcodec_and_passes(bundle, env, tmp_path, capsys,
                                                                            monkeypatch):
    """Before: the resolver followed only torch/torchaudio, torchcodec in the wheelhouse was never
    installed, and verification failed on torchaudio.load."""
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", codec_matrix(str(tmp_path / "m")))
    base = str(tmp_path / "w")
    full = "2.9.1+cu128"
    h.build_wheel(base, "torch", full, h.torch_files(full, "12.8", h.ARCHS_NEW))
    h.build_wheel(base, "torchaudio", full, {"torchaudio/__init__.py": CODEC_AUDIO.format(full=full).encode()},
                  ["torch==2.9.1"])
    h.build_wheel(base, "torchcodec", "0.9.0", {"torchcodec/__init__.py": b"__version__ = '0.9.0'\n"})
    h.build_wheel(base, "torchcodec", "0.10.0", {"torchcodec/__init__.py": b"__version__ = '0.10.0'\n"})
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.9.1", "--wheelhouse", base, "--dry-run")
    assert code == 0, out["summary"]
    assert {w["name"]: w["version"] for w in out["resolution"]["wheels"]}["torchcodec"] == "0.9.0"
    assert "FFmpeg" in out["summary"] or any(n["key"] == "ffmpeg_linux" for n in out["plan"]["notes"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--torch", "2.9.1", "--wheelhouse", base, "--yes")
    assert code == 0 and out["status"] == "committed", out["summary"]


# -- faster-whisper's ctranslate2 and the new torch's cuDNN (issue 24 item 5) ------------------------

ASR_COMPANIONS = """schema_version: 1
torch_cudnn:
  - {torch_min: "2.4", cudnn_major: 9, source: test}
  - {torch_min: "1.13", torch_max: "2.3", cudnn_major: 8, source: test}
ctranslate2:
  - {ctranslate2_min: "4.5", cuda_major: 12, cudnn_major: 9, source: test}
  - {ctranslate2_min: "4.0", ctranslate2_max: "4.4", cuda_major: 12, cudnn_major: 8, source: test}
"""

CT2 = '''__version__ = "{version}"
def get_cuda_device_count():
    return 0
def get_supported_compute_types(device):
    return {{"float32"}}
'''


def test_plan_moves_ctranslate2_to_the_new_torchs_cudnn(tmp_path):
    matrix = load_matrix(h.write_matrix(str(tmp_path / "m"), {"companions.yaml": ASR_COMPANIONS}))
    installed = (("torch", "2.1.2+cu121"), ("ctranslate2", "4.4.0"))
    plan = make_plan(PlanFacts("linux", "3.11.9", (BLACKWELL,), "576.02", installed), matrix)
    assert plan.target.requirements()[-1] == "ctranslate2>=4.5"
    assert any(n.key == "ctranslate2_planned" and n.params["cudnn"] == 9 for n in plan.notes)
    fits = (("torch", "2.1.2+cu121"), ("ctranslate2", "4.6.0"))
    plan = make_plan(PlanFacts("linux", "3.11.9", (BLACKWELL,), "576.02", fits), matrix)
    assert not plan.target.companions  # already built for cuDNN 9: kept as it is


def test_upgrade_installs_and_verifies_the_ctranslate2_for_the_new_cudnn(bundle, env, wheels, tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", h.write_matrix(str(tmp_path / "m"), {"companions.yaml": ASR_COMPANIONS}))
    python = os.path.join(bundle, "runtime", "bin", "python")
    h.pip_install(python, [h.build_wheel(str(tmp_path / "old"), "ctranslate2", "4.4.0",
                                         {"ctranslate2/__init__.py": CT2.format(version="4.4.0").encode()})])
    new = h.build_wheel(str(tmp_path / "new"), "ctranslate2", "4.5.0",
                        {"ctranslate2/__init__.py": CT2.format(version="4.5.0").encode()})
    # a source without ctranslate2 (PyTorch's indexes have none): said, not a refusal
    house = _folder(tmp_path, *wheels["new"], *wheels["fakedep"])
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--dry-run")
    assert code == 0, out["summary"]
    assert any(n["key"] == "companion_unavailable" for n in out["check_notes"])
    shutil.copy(new, house)
    code, out = run_json(capsys, "upgrade", "--root", bundle, "--wheelhouse", house, "--yes")
    assert code == 0 and out["status"] == "committed", out["summary"]
    assert any(w["name"] == "ctranslate2" and w["version"] == "4.5.0" for w in out["result"]["resolution"]["wheels"])
    app = next(s for s in out["result"]["verify"]["steps"] if s["name"] == "app")
    assert "ctranslate2 4.5.0" in app["detail"]


def test_cpu_wheel_under_a_cuda_name_on_an_index_with_separate_metadata_is_caught_at_the_download(
        bundle, env, odd_wheels, capsys):
    """PEP 658 metadata and a label: the plan takes the label (no whole-wheel read for a dry run); the
    downloaded file is checked before anything is installed, and the mirror is blamed."""
    runtime = os.path.join(bundle, "runtime")
    before = h.manifest(runtime)
    with h.IndexServer(odd_wheels["mislabeled"] + [odd_wheels["fakedep"]], pep658=True) as server:
        code, out = run_json(capsys, "upgrade", "--root", bundle, "--index-url", server.url, "--yes")
    assert code == 3 and out["error"]["key"] == "upgrade.error.mislabeled", out
    assert "serves a wrong file" in out["error"]["message"] and "cpu" in out["error"]["message"]
    assert h.manifest(runtime) == before
