"""`envdoctor fix --demo`: the whole walk on the built-in example bundle, with real child processes.

The demo brings its own simulated GPU and driver (the memo's RTX 5060 Ti on driver 576.02): the shell's
ENVDOCTOR_GPUS is unset here, and this machine has no GPU, so a child that did not receive the
scenario would find no GPU and the walk would end differently.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private temp folder for the demo bundle, a private cache, no simulated GPU in the shell."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    for key in ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "ENVDOCTOR_MATRIX_DIR", "is_half", "GPT_SOVITS_SV_MODE"):
        monkeypatch.delenv(key, raising=False)
    return temp


def fix_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    code = main(["fix", "--demo", *args, "--json", "--lang", "en"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def test_the_demo_plans_the_memos_choices_and_leaves_no_folder(demo_env: Path, capsys):
    out = fix_json(capsys)
    assert out["demo"] == "rtx5060ti-v2pro"
    assert out["status"] == "planned" and out["chosen"] is None and out["exit_code"] == 2
    assert out["recommended"] == "A"
    codes = {f["code"] for f in out["diagnosis"]["blocking"]}
    assert "nvrtc-too-old" in codes and any("fp16" in code for code in codes), codes
    assert {c["key"]: c["available"] for c in out["choices"]} == {"A": True, "B": False, "C": True}
    assert os.listdir(demo_env) == []  # the bundle was written to a temporary folder and removed


def test_the_demo_carries_out_a_and_the_final_check_passes(demo_env: Path, capsys):
    out = fix_json(capsys, "--yes", "--choose", "A")
    assert out["status"] == "changed-unproven", out["steps"]
    assert out["chosen"] == "A" and out["proven"] is None  # a simulated GPU proves nothing
    assert out["final"]["exit_code"] in (0, 1) and not out["final"]["blocking"]
    assert [s["name"] for s in out["steps"]] == ["check", "configure-preview", "upgrade-plan", "configure", "check"]
    assert os.listdir(demo_env) == []


def test_leaving_it_in_the_demo_names_no_report_in_a_removed_folder(demo_env: Path, capsys):
    out = fix_json(capsys, "--yes", "--choose", "C")
    assert out["status"] == "left" and out["exit_code"] == 2
    assert "report" in [s["name"] for s in out["steps"]]
    assert out["report"] is None
    assert os.listdir(demo_env) == []


def test_the_demo_refuses_a_real_folder_and_says_so_in_chinese(demo_env: Path, tmp_path: Path, capsys):
    code = main(["fix", "--demo", "--root", str(tmp_path), "--lang", "zh_CN"])
    assert code == 3
    assert "--root" in capsys.readouterr().err
    assert os.listdir(demo_env) == []


def test_an_unknown_demo_scenario_is_a_clear_error(demo_env: Path, capsys):
    code = main(["fix", "--demo", "gtx9999", "--lang", "en"])
    assert code == 3
    err = capsys.readouterr().err
    assert "gtx9999" in err and "rtx5060ti-v2pro" in err


def test_chinese_from_the_children_survives_a_non_utf8_console(demo_env: Path, capsys, monkeypatch):
    """On Chinese Windows a child's pipe is in the ANSI code page (cp936); fix reads the envelope as UTF-8."""
    monkeypatch.setenv("PYTHONIOENCODING", "gbk")
    code = main(["fix", "--demo", "--json", "--lang", "zh_CN"])
    out = json.loads(capsys.readouterr().out)
    assert code == out["exit_code"] == 2
    title = next(f["title"] for f in out["diagnosis"]["blocking"] if f["code"] == "nvrtc-too-old")
    assert "?" not in title and "无法" in title, title
