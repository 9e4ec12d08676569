"""Files keep what they had: YAML comments and order, GBK + CRLF .bat, BOM .ps1, modes; and
configure -> revert gives the tree back byte for byte (property test over generations and settings)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gptsovits.conftest import configure
from tests.gptsovits.trees import GENERATIONS, YAML_COMMENTED, make_tree, snapshot

YAML = "GPT_SoVITS/configs/tts_infer.yaml"


def test_yaml_changes_only_the_values_and_keeps_comments_and_order(tree, capsys) -> None:
    root = tree("v2-2024", yaml_text=YAML_COMMENTED)
    configure(root, "--fp16", "off", "--device", "cuda:1", "--arch-list", "off", "--yes", capsys=capsys)
    before = YAML_COMMENTED.splitlines()
    after = (root / YAML).read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed == [("  is_half: true  # 半精度", "  is_half: false  # 半精度"),
                       ("  device: cuda", "  device: cuda:1")]
    assert len(before) == len(after)


def test_yaml_key_missing_from_custom_is_added_inside_custom(tree, capsys) -> None:
    text = "custom:\n  version: v2\n  device: cuda\nv2:\n  device: cpu\n  is_half: false\n"
    root = tree("main", yaml_text=text)
    configure(root, "--fp16", "off", "--arch-list", "off", "--v2pro-sv", "on", "--yes", capsys=capsys)
    assert (root / YAML).read_text() == ("custom:\n  version: v2\n  device: cuda\n  is_half: false\n"
                                         "v2:\n  device: cpu\n  is_half: false\n")


def test_yaml_with_crlf_and_bom_keeps_both(tree, capsys) -> None:
    root = tree("main")
    path = root / YAML
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    configure(root, "--fp16", "off", "--arch-list", "off", "--v2pro-sv", "on", "--yes", capsys=capsys)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"  is_half: false\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_bat_stays_gbk_with_crlf_and_gets_a_chinese_stop_message(tree, capsys) -> None:
    root = tree("v2-2024")
    configure(root, "--fp16", "off", "--arch-list", "12.0", "--launcher-check", "--yes", capsys=capsys, lang="zh_CN")
    data = (root / "go-webui.bat").read_bytes()
    text = data.decode("gbk")  # still GBK: would raise on UTF-8 Chinese
    assert "REM 启动 GPT-SoVITS 整合包" in text and "WebUI 没有启动" in text
    assert data.count(b"\n") == data.count(b"\r\n")
    lines = text.split("\r\n")
    start = next(i for i, line in enumerate(lines) if "webui.py" in line and not line.startswith("REM"))
    assert lines[start - 1].startswith("REM envdoctor configure: end launcher")
    assert 'set "is_half=False"' in lines and 'set "TORCH_CUDA_ARCH_LIST=12.0"' in lines
    assert 'envdoctor check --launcher --root "%~dp0."' in lines
    assert 'if not "%ERRORLEVEL%"=="2" goto envdoctor_start' in lines


def test_ps1_keeps_its_bom_and_line_endings(tree, capsys) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--arch-list", "12.0", "--launcher-check", "--yes", capsys=capsys)
    data = (root / "go-webui.ps1").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and not data[3:].startswith(b"\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n")
    text = data[3:].decode("utf-8")
    assert "$env:is_half = 'False'\r\n" in text and "if ($LASTEXITCODE -eq 2) {\r\n" in text


def test_a_utf32_ps1_stays_utf32(tree, capsys) -> None:
    """textcodec reads UTF-32's BOM (which starts like UTF-16 LE's): the edit is UTF-32, not UTF-16 in it."""
    root = tree("main")
    original = (root / "go-webui.ps1").read_bytes().decode("utf-8-sig")
    (root / "go-webui.ps1").write_bytes(b"\xff\xfe\x00\x00" + original.encode("utf-32-le"))
    configure(root, "--fp16", "off", "--arch-list", "12.0", "--launcher-check", "--yes", capsys=capsys)
    data = (root / "go-webui.ps1").read_bytes()
    assert data.startswith(b"\xff\xfe\x00\x00") and len(data) % 4 == 0
    text = data[4:].decode("utf-32-le")
    assert "\x00" not in text and "$env:is_half = 'False'\r\n" in text


def test_file_modes_are_kept(tree, capsys) -> None:
    root = tree("main")
    os.chmod(root / "config.py", 0o640)
    os.chmod(root / "go-webui.bat", 0o755)
    configure(root, "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    assert (root / "config.py").stat().st_mode & 0o777 == 0o640
    assert (root / "go-webui.bat").stat().st_mode & 0o777 == 0o755
    assert os.access(root / "go-webui.sh", os.X_OK)


def test_preview_writes_nothing(tree, capsys) -> None:
    root = tree("main")
    before = snapshot(root)
    envelope = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", capsys=capsys)
    assert envelope["mode"] == "preview" and envelope["changes"]
    assert all(change["diff"].startswith("--- a/") for change in envelope["changes"])
    assert snapshot(root) == before


def test_configure_twice_changes_values_without_stacking_blocks(tree, capsys) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--yes", capsys=capsys)
    configure(root, "--v2pro-sv", "off", "--yes", capsys=capsys)
    sv = (root / "GPT_SoVITS" / "sv.py").read_text()
    assert sv.count("envdoctor configure: begin v2pro-sv") == 1 and '"off").strip()' in sv
    bat = (root / "go-webui.bat").read_text()
    assert bat.count("envdoctor configure: begin") == 1 and 'set "is_half=False"' in bat  # --fp16 off was kept
    # Going back to GPT-SoVITS's own behaviour gives the original bytes back and forgets the file.
    fresh = make_tree(root.parent / "fresh", "main")
    envelope = configure(root, "--v2pro-sv", "on", "--yes", capsys=capsys)
    assert (root / "GPT_SoVITS" / "sv.py").read_bytes() == (fresh / "GPT_SoVITS" / "sv.py").read_bytes()
    assert "GPT_SoVITS/sv.py" in {c["file"] for c in envelope["changes"]}


SETTINGS = st.fixed_dictionaries({
    "--fp16": st.sampled_from(["on", "off", "auto"]),
    "--v2pro-sv": st.sampled_from(["on", "cpu", "off", "auto"]),
    "--arch-list": st.sampled_from(["off", "12.0", "8.6;8.9", "auto"]),
    "--device": st.sampled_from(["keep", "cpu", "cuda", "cuda:0"]),
    "check": st.booleans(),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generation=st.sampled_from(GENERATIONS), first=SETTINGS, second=st.one_of(st.none(), SETTINGS),
       crlf_yaml=st.booleans())
def test_configure_then_revert_is_byte_identical(generation, first, second, crlf_yaml, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    with tempfile.TemporaryDirectory() as folder:
        root = make_tree(Path(folder) / "gsv", generation)
        if crlf_yaml:
            path = root / YAML
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        before = snapshot(root)
        for chosen in (first, second):
            if chosen is None:
                continue
            args = [item for key, value in chosen.items() if key != "check" for item in (key, value)]
            args.append("--launcher-check" if chosen["check"] else "--no-launcher-check")
            envelope = configure(root, *args, "--yes", capsys=capsys)
            assert envelope["_code"] in (0, 1), envelope
        revert = configure(root, "--revert", capsys=capsys)
        assert revert["_code"] == 0, revert
        assert snapshot(root) == before


def test_chinese_stop_message_goes_into_an_ascii_bat_as_gbk_and_a_bomless_ps1_stays_ascii(tree, capsys) -> None:
    root = tree("main")  # its go-webui.bat is ASCII, as upstream's is
    (root / "go-webui.ps1").write_bytes(b'& "$PSScriptRoot\\runtime\\python.exe" -I "$PSScriptRoot\\webui.py"\n')
    configure(root, "--fp16", "off", "--arch-list", "off", "--launcher-check", "--yes", capsys=capsys, lang="zh_CN")
    bat = (root / "go-webui.bat").read_bytes()
    assert "WebUI 没有启动".encode("gbk") in bat
    ps1 = (root / "go-webui.ps1").read_bytes()
    assert ps1.isascii() and b"the WebUI was not started" in ps1
    assert "WebUI 没有启动" in (root / "go-webui.sh").read_text(encoding="utf-8")
    configure(root, "--revert", capsys=capsys)
    assert (root / "go-webui.bat").read_bytes().isascii()


def test_a_launcher_edited_after_configure_keeps_the_edit_through_reconfigure_and_revert(tree, capsys) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--arch-list", "12.0", "--yes", capsys=capsys)
    bat = root / "go-webui.bat"
    edited = bat.read_bytes().replace(b"pause\r\n", b"echo bye\r\npause\r\n")
    bat.write_bytes(edited)
    envelope = configure(root, "--arch-list", "8.9", "--yes", capsys=capsys)
    assert {"key": "configure.note.drift", "file": "go-webui.bat"} in [
        {"key": n["key"], "file": n["params"].get("file")} for n in envelope["notes"]]
    text = bat.read_text()
    assert text.count("envdoctor configure: begin") == 1 and 'TORCH_CUDA_ARCH_LIST=8.9"' in text and "echo bye" in text
    configure(root, "--revert", capsys=capsys)
    # Back to the user's version, without envdoctor's block.
    assert bat.read_bytes() == edited.replace(
        edited[edited.index(b"REM envdoctor configure: begin"):edited.index(b"runtime\\python.exe")], b"")


def test_bat_block_has_no_characters_cmd_would_treat_as_redirection_in_rem_lines(tree, capsys) -> None:
    root = tree("main")
    configure(root, "--fp16", "off", "--arch-list", "12.0", "--launcher-check", "--yes", capsys=capsys)
    rem_lines = [line for line in (root / "go-webui.bat").read_text().splitlines() if line.startswith("REM envdoctor")]
    assert len(rem_lines) == 2 and not any(ch in line for line in rem_lines for ch in "<>|&")
