"""A command that wants a folder says what it got instead: a file is not "a folder that does not exist"."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from envdoctor.cli.main import main


@pytest.mark.parametrize("command", [["configure", "--root"], ["summarize"]])
def test_a_file_where_a_folder_is_wanted_is_named_a_file(command, tmp_path: Path, capsys) -> None:
    report = tmp_path / "report.json"
    report.write_text("{}")
    code = main([*command, str(report), "--json", "--lang", "en"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 3 and error["key"] == "safety.path.not_directory", error
    assert "is a file" in error["message"] and "does not exist" not in error["message"]
    assert report.read_text() == "{}"  # nothing written


@pytest.mark.skipif(sys.platform == "win32", reason="symlink loops and FIFOs are POSIX")
@pytest.mark.parametrize("command", [["configure", "--root"], ["summarize"]])
def test_a_loop_or_a_fifo_is_named_as_such(command, tmp_path: Path, capsys) -> None:
    loop, fifo = tmp_path / "loop", tmp_path / "pipe"
    os.symlink(loop, loop)
    os.mkfifo(fifo)
    for path, reason in ((loop, "loop"), (fifo, "fifo")):
        assert main([*command, str(path), "--json", "--lang", "zh_CN"]) == 3
        assert json.loads(capsys.readouterr().out)["error"]["key"] == f"safety.path.{reason}"


@pytest.mark.parametrize("command, key", [(["configure", "--root"], "configure.error.root_missing"),
                                          (["summarize"], "summarize.error.not_dir")])
def test_a_missing_folder_still_says_it_does_not_exist(command, key, tmp_path: Path, capsys) -> None:
    assert main([*command, str(tmp_path / "nope"), "--json", "--lang", "en"]) == 3
    assert json.loads(capsys.readouterr().out)["error"]["key"] == key
