"""The anchored patches take effect: run the patched code with the stand-in torch and check the
explicit setting wins; unknown versions are refused while the other targets are still written."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.gptsovits import patches
from tests.gptsovits.conftest import configure, result_of, run_python

PRINT_CONFIG = ["python", "-c", "import config; print('RESULT {\"is_half\": %s}' % str(config.is_half).lower())"]


def test_autodtype_config_overrides_an_explicit_is_half_until_patched(tree, standin, capsys) -> None:
    root = tree("main")
    # Upstream behaviour on a Blackwell card: is_half=False in the environment is ignored.
    assert result_of(run_python(root, standin, PRINT_CONFIG, {"is_half": "False"}))["is_half"] is True
    configure(root, "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    # Patched: the default envdoctor chose applies with no environment at all ...
    assert result_of(run_python(root, standin, PRINT_CONFIG))["is_half"] is False
    # ... an explicit environment value still wins over that default ...
    assert result_of(run_python(root, standin, PRINT_CONFIG, {"is_half": "True"}))["is_half"] is True
    # ... and half precision never goes to the CPU.
    no_gpu = {"is_half": "True", "STANDIN_CUDA": "0"}
    assert result_of(run_python(root, standin, PRINT_CONFIG, no_gpu))["is_half"] is False


@pytest.mark.parametrize("generation", ["main", "v2pro-2025"])
def test_sv_cpu_mode_runs_fbank_on_cpu_and_returns_to_the_gpu(generation, tree, standin, capsys) -> None:
    root = tree(generation)
    nvrtc_old = {"STANDIN_NVRTC_TOO_OLD": "1", "is_half": "True"}
    before = run_python(root, standin, ["python", "GPT_SoVITS/inference_webui.py"], nvrtc_old)
    assert before.returncode != 0 and "nvrtc: error: invalid value for --gpu-architecture" in before.stderr
    envelope = configure(root, "--v2pro-sv", "cpu", "--fp16", "auto", "--arch-list", "off", "--yes", capsys=capsys)
    assert envelope["_code"] == 0, envelope
    result = result_of(run_python(root, standin, ["python", "GPT_SoVITS/inference_webui.py"], nvrtc_old))
    assert result["fbank_calls"] == [{"device": "cpu", "dtype": "torch.float32"}]
    assert result["sv_model_device"] == "cpu"
    # The embedding goes back where the caller works, in the caller's precision.
    assert (result["embedding_device"], result["embedding_dtype"]) == ("cuda", "torch.float16")
    assert result["embedding_shape"] == [1, 20480]
    # The environment can turn it back on for one run.
    again = run_python(root, standin, ["python", "GPT_SoVITS/inference_webui.py"],
                       dict(nvrtc_old, GPT_SOVITS_SV_MODE="on"))
    assert "nvrtc: error" in again.stderr


def test_sv_off_mode_loads_no_model_and_gives_a_zero_embedding(tree, standin, capsys) -> None:
    root = tree("main")
    configure(root, "--v2pro-sv", "off", "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    result = result_of(run_python(root, standin, ["python", "GPT_SoVITS/inference_webui.py"],
                                  {"STANDIN_NVRTC_TOO_OLD": "1"}))
    assert result["fbank_calls"] == []
    assert (result["embedding_device"], result["embedding_shape"]) == ("cuda", [1, 20480])


def test_unknown_sv_version_is_refused_and_other_targets_are_written(tree, capsys) -> None:
    root = tree("main")
    sv = root / "GPT_SoVITS" / "sv.py"
    sv.write_bytes(sv.read_bytes().replace(b"num_mel_bins=80", b"num_mel_bins=64"))  # a fork we do not know
    before = sv.read_bytes()
    envelope = configure(root, "--v2pro-sv", "cpu", "--fp16", "off", "--arch-list", "12.0", "--yes", capsys=capsys)
    assert envelope["_code"] == 1
    assert [r["key"] for r in envelope["refusals"]] == ["configure.refuse.anchor_sv"]
    assert sv.read_bytes() == before
    written = {c["file"] for c in envelope["changes"]}
    assert {"config.py", "go-webui.bat", "go-webui.ps1", "GPT_SoVITS/configs/tts_infer.yaml"} <= written
    assert b"set \"GPT_SOVITS_SV_MODE=cpu\"" in (root / "go-webui.bat").read_bytes()


def test_unknown_config_version_is_refused(tree, capsys) -> None:
    root = tree("main")
    config = root / "config.py"
    config.write_text(config.read_text().replace("(x[2], x[3])", "(x[3], x[2])"))
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "on", "--arch-list", "off", "--yes", capsys=capsys)
    assert [r["key"] for r in envelope["refusals"]] == ["configure.refuse.anchor_fp16"]
    assert "envdoctor" not in config.read_text()


def test_patches_are_idempotent_and_follow_the_file_newline() -> None:
    text = "import os\r\n" + patches.SV_ANCHORS[0].text.replace("\n", "\r\n")  # no final newline, CRLF
    once, version = patches.apply(text, "\r\n", patches.SV_ANCHORS, patches.SV_BLOCK, patches.sv_body("cpu"))
    twice, _ = patches.apply(once, "\r\n", patches.SV_ANCHORS, patches.SV_BLOCK, patches.sv_body("cpu"))
    assert version.startswith("921ac6c")
    assert once == twice
    assert "\n" not in once.replace("\r\n", "")
    assert once.count("envdoctor configure: begin v2pro-sv") == once.count("envdoctor configure: end v2pro-sv") == 1
    other, _ = patches.apply(once, "\r\n", patches.SV_ANCHORS, patches.SV_BLOCK, patches.sv_body("off"))
    assert '"off").strip()' in other and '"cpu").strip()' not in other


def test_old_generations_need_no_config_patch(tree, standin, capsys) -> None:
    root = tree("v2-2024")
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "off", "--yes", capsys=capsys)
    files = {c["file"] for c in envelope["changes"]}
    assert "config.py" not in files and "GPT_SoVITS/sv.py" not in files
    assert "configure.note.no_sv" in [n["key"] for n in envelope["notes"]]
    # This config.py honours the environment the launcher sets.
    assert result_of(run_python(root, standin, PRINT_CONFIG, {"is_half": "False"}))["is_half"] is False


def test_the_anchor_texts_match_the_test_trees(tmp_path: Path) -> None:
    """The trees type class SV independently; a changed anchor must show up here, not only upstream."""
    from tests.gptsovits import trees

    assert patches.SV_ANCHORS[-1].text in trees.SV_CLASS_MAIN
    assert patches.SV_ANCHORS[0].text == trees.SV_CLASS_2025
    assert patches.CONFIG_ANCHORS[0].text in trees.CONFIG_AUTODTYPE
