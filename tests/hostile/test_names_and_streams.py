"""Odd names and streams: a GBK-named bundle folder and log on Linux (bytes that are no UTF-8), terminal
escapes in a log, a file name or a path, and standard streams the caller closed."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.gptsovits.trees import make_tree
from tests.hostile.conftest import REPO
from tests.support.fake_torch import FakeTorch, make_runtime

NONE = {"ENVDOCTOR_GPUS": "none"}
GBK_NAME = os.fsdecode("整合包".encode("gbk"))  # D5 FB BA CF B0 FC: no UTF-8 (and CF B0 reads as U+03F0)
ESCAPES = ("\x1b]0;pwned\x07", "\x1b[2J", "\x1b[8m", "\x9b31m")


@pytest.fixture(scope="module")
def gbk_bundle(tmp_path_factory) -> Path:
    """A bundle in a folder named in GBK, with a GBK-named WebUI log (a venv cannot be created under such
    a name: it is made under a plain one and renamed)."""
    base = tmp_path_factory.mktemp("gbk")
    plain = base / "plain"
    make_runtime(plain / "runtime", FakeTorch())
    root = base / GBK_NAME
    os.rename(plain, root)
    logs = root / "logs"
    logs.mkdir()
    (logs / os.fsdecode("日志.log".encode("gbk"))).write_text(
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n")
    return root


def test_check_of_a_gbk_named_bundle(cli, gbk_bundle) -> None:
    for args in (["--json"], []):
        outcome = cli(f"check of a GBK-named folder {args}", ["check", "--root", str(gbk_bundle), *args],
                      expect="answer", env=NONE, timeout=120)
        assert outcome.returncode in (0, 1, 2) and not outcome.crashed, outcome.stderr[-2000:]
        if args:
            assert "整合包" in json.dumps(json.loads(outcome.stdout), ensure_ascii=False)  # not "???"


def test_report_of_a_gbk_named_bundle_and_log(cli, gbk_bundle, tmp_path) -> None:
    out = tmp_path / "r.zip"
    outcome = cli("report of a GBK-named folder and log", ["report", "--root", str(gbk_bundle), "--no-scan",
                                                           "-o", str(out)], expect="answer", env=NONE, timeout=120)
    assert outcome.returncode == 0 and not outcome.crashed, outcome.stderr[-2000:]
    with zipfile.ZipFile(out) as archive:
        report = archive.read("report.json").decode("utf-8")
        logs = [n for n in archive.namelist() if n.startswith("evidence/logs/")]
        assert logs and "no kernel image" in archive.read(logs[0]).decode("utf-8")
    assert "整合包" in report  # the name as its owner reads it, not mojibake
    json.loads(report)


def test_readable_name_decodes_each_component() -> None:
    from envdoctor.fileio.textcodec import readable_name

    mixed = "/tmp/中文/" + GBK_NAME + "/x"
    assert readable_name(mixed) == "/tmp/中文/整合包/x"
    assert readable_name("plain") == "plain"
    assert "\ud800" not in readable_name("a\ud800b")


def _no_escape(text: str) -> bool:
    return "\x1b" not in text and "\x9b" not in text and "\x07" not in text


def test_escapes_in_a_log_are_not_sent_to_the_terminal(cli, tmp_path) -> None:
    log = tmp_path / "webui.log"
    log.write_text("Loading the model...\n" + "".join(f"  {e} line\n" for e in ESCAPES)
                   + "RuntimeError: CUDA error: no kernel image is available\x1b]0;title\x07\n", encoding="utf-8")
    outcome = cli("explain a log with terminal escapes", ["explain", str(log)], expect="answer", env=NONE)
    assert outcome.returncode in (0, 1, 2) and not outcome.crashed, outcome.stderr
    assert "no kernel image" in outcome.stdout
    assert _no_escape(outcome.stdout) and _no_escape(outcome.stderr), repr(outcome.stdout)


def test_escapes_in_a_scanned_file_name_are_not_sent_to_the_terminal(cli, tmp_path) -> None:
    folder = tmp_path / "libs"
    folder.mkdir()
    shutil.copy(REPO / "tests" / "fixtures" / "fatbin" / "sm75.so", folder / "lib\x1b]0;pwned\x07\x1b[2Jx.so")
    outcome = cli("scan a file name with terminal escapes", ["scan", str(folder), "--all", "--cc", "12.0"],
                  expect="answer",
                  env=NONE)
    assert outcome.returncode in (0, 1, 2) and not outcome.crashed, outcome.stderr
    assert "pwned" in outcome.stdout
    assert _no_escape(outcome.stdout) and _no_escape(outcome.stderr), repr(outcome.stdout)


def test_escapes_in_the_bundle_path_are_not_sent_to_the_terminal(cli, tmp_path) -> None:
    root = tmp_path / "gsv\x1b]0;pwned\x07\x1b[2J"
    root.mkdir()
    outcome = cli("check a bundle path with terminal escapes", ["check", "--root", str(root)], env=NONE)
    assert outcome.clear_error and "pwned" in outcome.stderr, outcome.stderr
    assert _no_escape(outcome.stdout) and _no_escape(outcome.stderr), repr(outcome.stderr)


def test_printable_keeps_newlines_and_tabs() -> None:
    from envdoctor.cli.ui import printable

    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("x\x1b[2Jy") == "x\\x1b[2Jy"
    assert printable("\u202eevil") == "\\u202eevil"


@pytest.mark.parametrize("command", [["check", "--json"], ["explain", "--json"], ["report", "--json"]])
def test_stdout_closed_with_json_is_said_not_a_traceback(cli, tmp_path, command) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    args = {"check": ["--root", str(root), "--no-live"], "explain": [str(root / "config.py")],
            "report": ["--root", str(root), "--no-live", "--no-scan", "-o", str(tmp_path / "r.zip")]}[command[0]]
    outcome = cli(f"{command[0]} --json with stdout closed", [*command, *args], expect="any", env=NONE, close=(1,))
    assert not outcome.crashed, outcome.stderr
    assert "standard output is closed" in outcome.stderr, outcome.stderr


def test_fix_with_stdin_closed_is_not_an_unexpected_error(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    outcome = cli("fix with stdin closed", ["fix", "--root", str(root), "--no-live"], expect="any", env=NONE,
                  close=(0,), timeout=120)
    assert not outcome.crashed, outcome.stdout + outcome.stderr
    assert outcome.returncode in (0, 1, 2, 3) and (outcome.stdout + outcome.stderr).strip()
