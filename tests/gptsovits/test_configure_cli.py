"""`envdoctor configure` as users meet it: errors leave every byte alone, auto follows the check and
NVML, options left out keep earlier choices, --show says where each setting comes from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from tests.gptsovits.conftest import configure
from tests.gptsovits.trees import snapshot
from tests.support.fake_torch import FakeTorch, make_runtime

# A small matrix of our own (the shape of the real one), enough for the fp16 and NVRTC rules.
MATRIX = {
    "cuda.yaml": """schema_version: 1
toolkits:
  - {version: "12.4", min_driver: {linux: "550.54.14", windows: "551.61"}, sass_archs: [sm_50, sm_60, sm_61, sm_70, sm_75, sm_80, sm_86, sm_89, sm_90], source: "test"}
  - {version: "12.8", min_driver: {linux: "570.26", windows: "570.65"}, sass_archs: [sm_50, sm_60, sm_61, sm_70, sm_75, sm_80, sm_86, sm_89, sm_90, sm_100, sm_120], source: "test"}
minor_version_compat:
  - {major: 12, min_driver: {linux: "525.60.13", windows: "528.33"}, source: "test"}
""",  # noqa: E501
    "torch.yaml": """schema_version: 1
series:
  - series: "2.6"
    python: {min: "3.9", max: "3.14"}
    releases: [{torch: "2.6.0", torchaudio: "2.6.0", torchvision: "0.21.0"}]
    default_variant: cu124
    variants:
      - {name: cu124, cuda: "12.4", index_url: "https://download.pytorch.org/whl/cu124", archs: {linux: {sass: [sm_50, sm_60, sm_70, sm_75, sm_80, sm_86, sm_90], ptx: [sm_90]}}, source: test}
    source: test
""",  # noqa: E501
    "gpus.yaml": "schema_version: 1\ngpus:\n"
                 "  - {match: \"RTX 50[0-9]{2}\", compute_capability: \"12.0\", source: test}\n",
    "errors.yaml": "schema_version: 1\nknown_errors: []\n",
    "gptsovits.yaml": "schema_version: 1\n",
}


def test_missing_root_is_a_clear_error(tmp_path: Path, capsys) -> None:
    envelope = configure(tmp_path / "nowhere", "--fp16", "off", capsys=capsys)
    assert envelope["_code"] == 3 and envelope["error"]["key"] == "configure.error.root_missing"
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_that_is_not_gptsovits_is_refused(tmp_path: Path, capsys) -> None:
    envelope = configure(tmp_path, "--fp16", "off", "--yes", capsys=capsys)
    assert envelope["error"]["key"] == "configure.error.not_gptsovits"
    assert list(tmp_path.iterdir()) == []


def test_malformed_yaml_changes_nothing_anywhere(tree, capsys) -> None:
    root = tree("main", yaml_text="custom:\n  device: cuda\n  is_half: [true\n")
    before = snapshot(root)
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--yes", capsys=capsys)
    assert envelope["_code"] == 3 and envelope["error"]["key"] == "configure.error.yaml_malformed"
    assert snapshot(root) == before


def test_read_only_file_changes_nothing_anywhere(tree, capsys) -> None:
    root = tree("main")
    os.chmod(root / "go-webui.ps1", 0o444)
    before = snapshot(root)
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--yes", capsys=capsys)
    assert envelope["_code"] == 3 and envelope["error"]["key"] == "configure.error.read_only"
    assert "go-webui.ps1" in envelope["error"]["params"]["path"]
    assert snapshot(root) == before


def test_a_failed_write_puts_back_what_was_written(tree, capsys, monkeypatch) -> None:
    from envdoctor.gptsovits import writer

    root = tree("main")
    before = snapshot(root)
    real = writer.atomic_write
    calls = []

    def failing(path, data, mode):  # the disk fills up on the third GPT-SoVITS file
        if ".envdoctor" not in str(path):
            calls.append(path)
            if len(calls) == 3:
                raise OSError(28, "No space left on device", path)
        return real(path, data, mode)

    monkeypatch.setattr(writer, "atomic_write", failing)
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--yes", capsys=capsys)
    assert envelope["error"]["key"] == "configure.error.write_failed"
    assert calls[3:] == list(reversed(calls[:2]))  # the two files written before were put back
    assert snapshot(root) == before


def test_revert_refuses_files_changed_since_and_force_restores(tree, capsys) -> None:
    root = tree("main")
    before = (root / "config.py").read_bytes()
    configure(root, "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    with open(root / "config.py", "a", encoding="utf-8") as handle:
        handle.write("# edited by the user\n")
    edited = snapshot(root)
    envelope = configure(root, "--revert", capsys=capsys)
    assert envelope["error"]["key"] == "configure.error.revert_drift" and snapshot(root) == edited
    assert configure(root, "--revert", "--force", capsys=capsys)["_code"] == 0
    assert (root / "config.py").read_bytes() == before


def test_revert_with_nothing_to_do(tree, capsys) -> None:
    root = tree("main")
    assert main(["configure", "--root", str(root), "--revert"]) == 0
    assert "Nothing to revert" in capsys.readouterr().out


def test_arch_list_auto_comes_from_the_gpus(tree, capsys, monkeypatch) -> None:
    root = tree("main")
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0;NVIDIA GeForce RTX 4090@8.9")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "on", capsys=capsys)
    assert envelope["settings"]["arch_list"] == "8.9;12.0"
    assert envelope["settings"]["arch_list_source"] == "doctor"
    notes = {n["key"]: n["message"] for n in envelope["notes"]}
    assert "does not change which GPUs torch's NVRTC accepts" in notes["configure.note.arch_list"]


def test_bad_values_are_refused_before_anything(tree, capsys) -> None:
    root = tree("main")
    assert configure(root, "--arch-list", "sm_120", capsys=capsys)["error"]["key"] == "configure.error.bad_arch_list"
    assert configure(root, "--device", "gpu", capsys=capsys)["error"]["key"] == "configure.error.bad_device"


def test_auto_follows_the_check_on_the_memo_machine(tree, tmp_path, capsys, monkeypatch, gpu_5060) -> None:
    """torch 2.6 cu124 on an RTX 5060 Ti: the check predicts both memo failures -> fp16 off, sv on CPU."""
    matrix = tmp_path / "matrix"
    matrix.mkdir()
    for name, text in MATRIX.items():
        (matrix / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(matrix))
    root = tree("main")
    (root / "runtime" / "bin" / "python3").unlink()
    make_runtime(root / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4",
                                             devices=[{"name": "NVIDIA GeForce RTX 5060 Ti", "cc": "12.0"}]))
    envelope = configure(root, capsys=capsys)
    settings = envelope["settings"]
    assert (settings["fp16"], settings["fp16_source"]) == (False, "doctor")
    assert (settings["v2pro_sv"], settings["v2pro_sv_source"]) == ("cpu", "doctor")
    assert settings["arch_list"] == "12.0"
    keys = [n["key"] for n in envelope["notes"]]
    assert "configure.note.fp16_off" in keys and "configure.note.sv_cpu" in keys
    assert "configure.note.upgrade_needed" in keys  # settings are the workaround; the torch build is the fix


def test_auto_without_a_verdict_keeps_gptsovits_defaults(tree, capsys, gpu_5060) -> None:
    root = tree("main")  # runtime without torch: the check cannot recommend anything
    envelope = configure(root, "--arch-list", "off", capsys=capsys)
    assert envelope["settings"]["fp16"] is None and envelope["settings"]["v2pro_sv"] is None
    assert envelope["changes"] == []


def test_options_left_out_keep_the_earlier_choice(tree, capsys, gpu_5060) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--yes", capsys=capsys)
    envelope = configure(root, "--arch-list", "8.9", "--yes", capsys=capsys)
    assert (envelope["settings"]["fp16"], envelope["settings"]["fp16_source"]) == (False, "previous")
    assert envelope["settings"]["v2pro_sv"] == "cpu"
    assert 'set "TORCH_CUDA_ARCH_LIST=8.9"' in (root / "go-webui.bat").read_text()


def test_show_says_where_each_setting_comes_from(tree, capsys) -> None:
    root = tree("main")
    envelope = configure(root, "--show", capsys=capsys)
    rows = {(r["setting"], r["source"]) for r in envelope["settings"]}
    assert ("fp16", "upstream_autodtype") in rows and ("v2pro_sv", "upstream_no_switch") in rows
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--yes", capsys=capsys)
    envelope = configure(root, "--show", capsys=capsys)
    by_key = {(r["setting"], r["source"]): r for r in envelope["settings"]}
    assert by_key[("fp16", "patch")]["value"] == "False"
    assert by_key[("fp16", "launcher")]["file"] == "go-webui.bat, go-webui.ps1, go-webui.sh"
    assert by_key[("fp16", "yaml")]["value"] == "false"
    assert by_key[("v2pro_sv", "patch")]["value"] == "cpu"
    assert by_key[("arch_list", "launcher")]["value"] == "12.0"


def test_text_output_shows_the_diff_and_the_costs(tree, capsys) -> None:
    root = tree("main")
    code = main(["configure", "--root", str(root), "--fp16", "off", "--v2pro-sv", "off", "--arch-list", "12.0",
                 "--lang", "zh_CN"])
    out = capsys.readouterr().out
    assert code == 0
    assert "+  is_half: false" in out and "--- a/config.py" in out
    assert "多占一倍显存" in out and "没那么像" in out and "不会给已经编译好的 torch 增加内核" in out
    assert "这只是预览" in out


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_configure_message_exists_in_both_languages(lang) -> None:
    from envdoctor.i18n.en.configure import MESSAGES as EN
    from envdoctor.i18n.zh_CN.configure import MESSAGES as ZH

    assert set(EN) == set(ZH)
    assert all(value.strip() for value in (EN if lang == "en" else ZH).values())


def test_a_damaged_backup_is_reported_and_nothing_is_restored(tree, capsys) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    (root / ".envdoctor/configure/backup/config.py").write_bytes(b"not the original\n")
    configured = snapshot(root)
    envelope = configure(root, "--revert", capsys=capsys)
    assert envelope["_code"] == 3 and envelope["error"]["key"] == "configure.error.manifest"
    assert snapshot(root) == configured


def test_text_output_prints_a_bracketed_root_as_it_is(tmp_path, capsys, monkeypatch) -> None:
    """The folder name is text, not rich markup: "[/x]" crashed the preview and --show."""
    from tests.gptsovits.trees import make_tree

    monkeypatch.setenv("COLUMNS", "400")
    root = make_tree(tmp_path / "[bold]a" / "[/x]", "main")
    for args in (["--fp16", "off", "--v2pro-sv", "on", "--arch-list", "off", "--no-live"], ["--show"]):
        assert main(["configure", "--root", str(root), "--lang", "en", *args]) == 0
        assert str(root) in capsys.readouterr().out
