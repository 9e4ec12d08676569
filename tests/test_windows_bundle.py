"""Acceptance for issue 14 on one Windows-layout bundle, examined from this (Linux) machine as a
support engineer or a WSL user would: its Python version, configure writing only its .bat/.ps1, the
report's copies of its launchers in their own encodings and line endings, and a report that keeps the
bundle's facts apart from this machine's."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, write_bundle
from tests.gptsovits.trees import CONFIG_ENV, KALDI, PS1, SV_CLASS_2025, SV_HEADER, WEBUI, YAML_MAIN

BAT = ("REM 启动 GPT-SoVITS 整合包\r\nset \"PATH=%~dp0runtime;%PATH%\"\r\n"
       "runtime\\python.exe -I webui.py zh_CN\r\npause\r\n").encode("gbk")
PS1_UTF16 = b"\xff\xfe" + PS1.encode("utf-16-le")


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "GPT-SoVITS-v2pro-20250604"
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])  # runtime/python.exe, python39.dll, Lib/site-packages
    (root / "webui.py").write_text(WEBUI, encoding="utf-8")
    (root / "config.py").write_text(CONFIG_ENV, encoding="utf-8")
    (root / "GPT_SoVITS" / "configs" / "tts_infer.yaml").write_text(YAML_MAIN, encoding="utf-8")
    (root / "GPT_SoVITS" / "sv.py").write_text(SV_HEADER + SV_CLASS_2025, encoding="utf-8")
    (root / "GPT_SoVITS" / "eres2net").mkdir()
    (root / "GPT_SoVITS" / "eres2net" / "kaldi.py").write_text(KALDI, encoding="utf-8")
    (root / "go-webui.bat").write_bytes(BAT)
    (root / "go-webui.ps1").write_bytes(PS1_UTF16)
    monkeypatch.setenv("COLUMNS", "300")
    return root


def test_a_windows_bundle_examined_from_linux(bundle: Path, tmp_path: Path, capsys) -> None:
    assert main(["check", "--root", str(bundle), "--json"]) == 1
    envelope = json.loads(capsys.readouterr().out)
    facts = envelope["facts"]
    assert facts["runtime"]["layout"] == "windows-embedded" and facts["runtime"]["python_version"] == "3.9"
    assert facts["gpu_origin"] == "unknown" and envelope["gpus"] == []  # not this machine's GPU

    report = tmp_path / "report.zip"
    assert main(["report", "--root", str(bundle), "--no-live", "-o", str(report), "--assume-gpu",
                 "NVIDIA GeForce RTX 5060 Ti@12.0", "--assume-driver", "576.02@12.9"]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(report) as archive:
        assert archive.read("evidence/gptsovits/go-webui.bat") == BAT  # GBK, CRLF: the very bytes
        assert archive.read("evidence/gptsovits/go-webui.ps1") == PS1_UTF16  # UTF-16 with BOM
        markdown = archive.read("report.md").decode("utf-8")
        shapes = {e["path"]: (e.get("encoding"), e.get("newline"))
                  for e in json.loads(archive.read("report.json"))["report"]["evidence"]}
    assert shapes["evidence/gptsovits/go-webui.bat"] == ("gbk", "crlf")
    assert shapes["evidence/gptsovits/go-webui.ps1"] == ("utf-16-le", "crlf")
    assert ("runtime and torch: this windows bundle's files; GPU and driver: SIMULATED: given with --assume-gpu"
            in markdown)
    assert "This machine's operating system (not the bundle's)" in markdown and "Python 3.9" in markdown

    before = {p.name for p in bundle.iterdir()}
    assert main(["configure", "--root", str(bundle), "--fp16", "off", "--v2pro-sv", "cpu", "--launcher-check",
                 "--no-live", "--yes"]) == 0
    capsys.readouterr()
    assert {p.name for p in bundle.iterdir()} - before == {".envdoctor"}  # no go-webui.sh
    bat = (bundle / "go-webui.bat").read_bytes()
    assert bat.decode("gbk").count("\r\n") == bat.count(b"\n") and 'set "is_half=False"' in bat.decode("gbk")
    assert (bundle / "go-webui.ps1").read_bytes().startswith(b"\xff\xfe")
    assert main(["configure", "--root", str(bundle), "--revert"]) == 0
    assert "go-webui.sh" not in capsys.readouterr().out
    assert (bundle / "go-webui.bat").read_bytes() == BAT and (bundle / "go-webui.ps1").read_bytes() == PS1_UTF16
