"""Every table at 80 columns, in English and Chinese, in a real pseudo-terminal (issue 26, item 2): text
wraps (rich's overflow="fold"), it is never cut with "…" (a cut hint cannot be typed; Chinese has no
spaces to wrap at, so rich used to cut whole cells)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import List

import pytest

from envdoctor.demo import SCENARIOS, demo_environ, write_bundle
from tests.gptsovits.trees import make_tree

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

REPO = Path(__file__).resolve().parent.parent
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_TABLE = re.compile(r"[│┃┆┇]")


def run_at(columns: int, args: List[str], env: dict, cwd: Path, timeout: float = 180.0) -> str:
    """ARGS on a pty COLUMNS wide (the size a console window reports, not $COLUMNS); its screen. Input
    is not the terminal: fix shows its plan and asks nothing."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environ = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([sys.executable, "-m", "envdoctor", *args], stdin=subprocess.DEVNULL, stdout=slave,
                               stderr=slave, env=dict(environ, TERM="xterm", PYTHONPATH=str(REPO)), cwd=str(cwd),
                               close_fds=True)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(master)
    return _ANSI.sub("", screen.decode("utf-8", errors="replace")).replace("\r", "")


def cut_lines(screen: str) -> List[str]:
    return [line for line in screen.splitlines() if _TABLE.search(line) and "…" in line]


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch) -> Path:
    scenario = SCENARIOS["rtx5060ti-v2pro"]
    root = make_tree(tmp_path / "GPT-SoVITS 整合包", "v2pro-2025")
    write_bundle(str(root), scenario)
    for key, value in demo_environ(scenario).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    return root


COMMANDS = {
    "check": ["check", "--no-live", "-v"],
    "fix": ["fix", "--no-live"],
    "configure-show": ["configure", "--show", "--no-live"],
    "configure-preview": ["configure", "--fp16", "off", "--v2pro-sv", "cpu", "--no-live"],
    "mirrors": ["upgrade", "--list-mirrors"],
}


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_table_is_cut_at_80_columns(bundle: Path, name: str, lang: str) -> None:
    screen = run_at(80, [*COMMANDS[name], "--root", str(bundle), "--lang", lang]
                    if name != "mirrors" else [*COMMANDS[name], "--lang", lang], dict(os.environ), bundle)
    assert _TABLE.search(screen) or name == "configure-preview", screen  # a table was drawn
    assert cut_lines(screen) == [], screen


@pytest.mark.slow
def test_the_fix_plan_hint_is_whole_in_chinese_at_80_columns(bundle: Path) -> None:
    """The plan table's "undo" hint (issue 26: `撤销：envdoc… configure --revert`) is whole, folded."""
    screen = run_at(80, ["fix", "--no-live", "--root", str(bundle), "--lang", "zh_CN"], dict(os.environ), bundle)
    assert cut_lines(screen) == []
    costs = [line.split("│")[-2] for line in screen.splitlines() if line.count("│") == 4]  # the third column
    joined = "".join(cell.replace(" ", "") for cell in costs)
    assert "envdoctorconfigure--revert" in joined, screen
