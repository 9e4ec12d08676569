"""The report's copies of the user's files keep their shape: encoding, BOM and line endings. A file with
nothing to redact is copied byte for byte; a redacted one differs only where a secret was; report.json
records each copy's shape; `report --from` reads them back and writes them again unchanged."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, write_bundle
from envdoctor.report import fileshape

BAT_GBK_CRLF = ("@echo off\r\nREM 启动 GPT-SoVITS 整合包（中文注释）\r\nchcp 936\r\n"
                "runtime\\python.exe -I webui.py zh_CN\r\npause\r\n").encode("gbk")
TOKEN = "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4"
PS1_UTF16 = ("# 启动脚本\r\n$env:HF_HOME = 'D:\\models'\r\n$env:HF_TOKEN = '" + TOKEN + "'\r\n"
             "& \"$PSScriptRoot\\runtime\\python.exe\" -I \"$PSScriptRoot\\webui.py\" zh_CN\r\n")


@pytest.mark.parametrize("data, encoding, bom, newline", [
    (BAT_GBK_CRLF, "gbk", False, "crlf"),
    (b"\xff\xfe" + PS1_UTF16.encode("utf-16-le"), "utf-16-le", True, "crlf"),
    (b"\xfe\xff" + "a\nb\n".encode("utf-16-be"), "utf-16-be", True, "lf"),
    ("no BOM\r\n".encode("utf-16-le"), "utf-16-le", False, "crlf"),
    (b"\xff\xfe\x00\x00" + "# 启动\r\n".encode("utf-32-le"), "utf-32-le", True, "crlf"),  # textcodec's BOMs
    (b"\x00\x00\xfe\xff" + "a\nb\n".encode("utf-32-be"), "utf-32-be", True, "lf"),
    (b"\xef\xbb\xbfcustom:\n  device: cuda\n", "utf-8", True, "lf"),
    ("混合\r\nline\nends\r".encode(), "utf-8", False, "mixed"),
    (b"\x81\x30\x81\x30 gb18030 only\n", "gb18030", False, "lf"),
    (b"cp1252 \x80 \x9d and \xff\n", "latin-1", False, "lf"),
    (b"", "utf-8", False, "none"),
])
def test_every_shape_gives_the_same_bytes_back(data: bytes, encoding: str, bom: bool, newline: str) -> None:
    text, shape = fileshape.decode(data)
    assert (shape.encoding, shape.bom, shape.newline) == (encoding, bom, newline)
    assert fileshape.encode(text, shape) == data
    assert fileshape.decode_as(data, shape) == text


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "GPT-SoVITS"
    write_bundle(str(root), SCENARIOS["rtx5060ti-cu124"])
    (root / "go-webui.bat").write_bytes(BAT_GBK_CRLF)
    (root / "go-webui.ps1").write_bytes(b"\xff\xfe" + PS1_UTF16.encode("utf-16-le"))
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    return root


def _zip(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_report_keeps_each_files_encoding_and_line_endings(bundle: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "report.zip"
    assert main(["report", "--root", str(bundle), "--no-live", "-o", str(output)]) in (0, 1, 2)
    capsys.readouterr()
    files = _zip(output)
    assert files["evidence/gptsovits/go-webui.bat"] == BAT_GBK_CRLF  # nothing to redact: the very bytes
    ps1 = files["evidence/gptsovits/go-webui.ps1"]
    assert ps1.startswith(b"\xff\xfe")
    text = ps1[2:].decode("utf-16-le")
    assert TOKEN not in text and "<redacted>" in text  # redaction reached the UTF-16 text
    assert text.replace("<redacted>", TOKEN) == PS1_UTF16  # and changed nothing else: CRLF, Chinese kept
    listing = {e["path"]: e for e in json.loads(files["report.json"])["report"]["evidence"]}
    assert listing["evidence/gptsovits/go-webui.bat"] == {
        "path": "evidence/gptsovits/go-webui.bat", "bytes": len(BAT_GBK_CRLF), "encoding": "gbk", "bom": False,
        "newline": "crlf"}
    assert (listing["evidence/gptsovits/go-webui.ps1"]["encoding"], listing["evidence/gptsovits/go-webui.ps1"]["bom"]) \
        == ("utf-16-le", True)
    # The report's own summary of the launcher still reads the GBK file right.
    launchers = json.loads(files["report.json"])["report"]["gptsovits"]["launchers"]
    assert launchers["go-webui.bat"]["python"] == ["runtime\\python.exe -I webui.py zh_CN"]

    again = tmp_path / "again.zip"
    assert main(["report", "--from", str(output), "--lang", "zh_CN", "-o", str(again)]) in (0, 1, 2)
    capsys.readouterr()
    rerendered = _zip(again)
    for name in ("evidence/gptsovits/go-webui.bat", "evidence/gptsovits/go-webui.ps1"):
        assert rerendered[name] == files[name]
