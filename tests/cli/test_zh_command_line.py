"""The command line speaks Chinese all the way (issue 26, item 5): every command's --help and each
argparse error in zh_CN contain no English sentence; a misspelled command gets "did you mean"; Ctrl+C
gets a short line; Chinese sentences take Chinese punctuation."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envdoctor.cli.main import COMMANDS, main

REPO = Path(__file__).resolve().parent.parent.parent
# Three or more English words in a row (a sentence, not a name such as "NVIDIA GeForce RTX" or a
# command such as "import torch").
ENGLISH = re.compile(r"\b[A-Za-z][a-z]+(?: [a-z]{2,}){2,}\b")


def _zh(capsys: pytest.CaptureFixture, *argv: str) -> str:
    try:
        main([*argv, "--lang", "zh_CN"])
    except SystemExit:  # --help exits through argparse
        pass
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_is_chinese(capsys, command: str) -> None:
    text = _zh(capsys, command, "--help")
    assert "用法：" in text and "选项：" in text, text
    assert ENGLISH.findall(text) == [], text


def test_the_top_level_help_is_chinese(capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_LANG", "zh_CN")
    try:
        main(["--help"])
    except SystemExit:
        pass
    text = capsys.readouterr().out
    assert "检查、诊断并安全升级" in text and ENGLISH.findall(text) == [], text


@pytest.mark.parametrize("argv", [
    ("check", "--bogus"),
    ("check", "--root"),
    ("configure", "--fp16", "maybe"),
    ("configure", "--yes", "--revert"),
    ("rollback", "--keep", "x"),
    ("scan",),
    ("upgrade", "--stage-method", "nope"),
    ("fix", "--choose", "D"),
    ("chek",),
    ("frobnicate",),
])
def test_argparse_errors_are_chinese(capsys, argv: tuple) -> None:
    text = _zh(capsys, *argv)
    assert "envdoctor 已停止：" in text, text
    assert ENGLISH.findall(text) == [], text


def test_a_misspelled_command_gets_did_you_mean(capsys) -> None:
    assert main(["chek", "--lang", "en"]) == 3
    assert 'There is no command "chek". Did you mean: envdoctor check' in capsys.readouterr().err
    assert main(["chek", "--lang", "zh_CN"]) == 3
    assert "没有“chek”这个命令。你是不是想输入：envdoctor check" in capsys.readouterr().err


def test_chinese_messages_take_chinese_punctuation() -> None:
    """A colon or comma right after a Chinese character is the full-width one (：，)."""
    from envdoctor.i18n import catalogue

    ascii_after_chinese = re.compile(r"[\u4e00-\u9fff][:,;](?=\s|$|[\u4e00-\u9fff])")
    mixed = [key for key, text in catalogue("zh_CN").items() if ascii_after_chinese.search(text)]
    assert mixed == [], mixed


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX here")
def test_ctrl_c_says_so_in_a_short_line(tmp_path: Path) -> None:
    (tmp_path / "big.log").write_bytes(b"x" * 10)
    env = dict(os.environ, PYTHONPATH=str(REPO), ENVDOCTOR_LANG="zh_CN")
    # explain reading standard input waits for it: interrupt it there.
    child = subprocess.Popen([sys.executable, "-m", "envdoctor", "explain", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(1.5)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "已中断（Ctrl+C）" in err.decode("utf-8") and "Traceback" not in err.decode("utf-8")
