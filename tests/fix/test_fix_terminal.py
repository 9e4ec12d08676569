"""The interactive `envdoctor fix`, driven with real keystrokes through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fix.conftest import torch_version
from tests.gptsovits.trees import snapshot

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A child on a pty: `expect` reads until a text appears, `send` types a line."""

    def __init__(self, args: list, env: dict) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in _ANSI.sub("", self.screen):
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                raise AssertionError(f"{text!r} never appeared; screen:\n{_ANSI.sub('', self.screen)[-3000:]}")
            ready, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", errors="replace")
                except OSError:  # the child closed the terminal
                    pass
        return _ANSI.sub("", self.screen)

    def send(self, line: str) -> None:
        os.write(self.master, line.encode("utf-8") + b"\r")

    def close(self) -> int:
        try:
            return self.process.wait(timeout=120)
        finally:
            os.close(self.master)


def start(root: Path, lang: str) -> Terminal:
    env = dict(os.environ, COLUMNS="120", TERM="xterm")
    return Terminal([sys.executable, "-m", "envdoctor", "fix", "--root", str(root), "--no-live", "--lang", lang],
                    env)


def test_a_person_picks_through_wrong_answers_then_takes_the_recommendation(windows_bundle: Path):
    term = start(windows_bundle, "en")
    term.expect("Choose A, B or C (Enter = A, q = quit)")
    term.send("x")
    term.expect("Please type A, B, C or q.")
    term.send("b")
    term.expect("B is not possible here")
    term.send("")  # Enter: the recommendation
    screen = term.expect("Changed, and the check now passes. Not proven here")
    assert "Fixed" not in screen  # a simulated GPU proves nothing
    assert term.close() == 1  # runs, with warnings (PTX JIT only on this card)
    assert "Writing the workarounds" in screen
    assert "GPT_SOVITS_SV_MODE" in (windows_bundle / "go-webui.bat").read_bytes().decode("gbk")


def test_quitting_in_chinese_changes_nothing(windows_bundle: Path):
    before = snapshot(windows_bundle)
    term = start(windows_bundle, "zh_CN")
    screen = term.expect("请选择 A、B 或 C")
    assert "保留现有 runtime/，应用规避设置" in screen and "（推荐）" in screen
    term.send("q")
    term.expect("已取消；没有做任何改动。")
    assert term.close() == 2
    assert snapshot(windows_bundle) == before


@pytest.mark.slow
def test_b_asks_for_the_mirror_and_installs_from_the_one_typed(posix_bundle: Path, loopback_mirrors):
    term = start(posix_bundle, "en")
    term.expect("Choose A, B or C")
    term.send("b")
    term.expect("Where should the new torch wheels come from?")
    term.expect("2. loop-flat: loopback flat page (mainland China)")
    term.send("7")
    term.expect("Please type a number from 1 to 2, a name from the list, or q.")
    term.send("2")
    term.expect("Changed, and the check now passes", timeout=300)
    screen = term.expect("Wheels from mirror: loop-flat")
    assert term.close() in (0, 1)
    assert screen.index("Wheels come from mirror loop-flat.") < screen.index("Changed, and the check")
    assert torch_version(posix_bundle) == "2.7.0+cu128"
    assert set(loopback_mirrors.variants_asked) == {"cu128"}


@pytest.mark.slow
def test_b_mirror_by_name_in_chinese(posix_bundle: Path, loopback_mirrors):
    term = start(posix_bundle, "zh_CN")
    term.expect("请选择 A、B 或 C")
    term.send("b")
    term.expect("新的 torch 安装包从哪里下载？")
    term.expect("1. loop-index：本机索引（全球）")
    term.send("LOOP-INDEX")
    term.expect("已改动，检查现在通过", timeout=300)
    term.expect("安装包来自镜像：loop-index")
    assert term.close() in (0, 1)
    assert torch_version(posix_bundle) == "2.7.0+cu128"
    pages = [p for _m, p, _r in loopback_mirrors.requests if not p.startswith("/files/")]
    assert pages and all(p.startswith("/whl/cu128/") for p in pages), pages


@pytest.mark.slow
def test_quitting_at_the_mirror_question_changes_nothing(posix_bundle: Path, loopback_mirrors):
    before = snapshot(posix_bundle)
    term = start(posix_bundle, "zh_CN")
    term.expect("请选择 A、B 或 C")
    term.send("b")
    term.expect("请选择 1-2 或输入名称（回车 = loop-index，q = 退出）")
    term.send("q")
    term.expect("已取消；没有做任何改动。")
    term.close()
    assert snapshot(posix_bundle) == before
    assert loopback_mirrors.requests == []
