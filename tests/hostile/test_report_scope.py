"""report packs the user's bundle and nothing else: not the logs of a home or Downloads folder it was run
from, not what a log or launcher link inside the bundle points at (/proc/self/environ, another folder),
and it never claims a report is safe to post when it could not vet it."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from envdoctor.demo import SCENARIOS, write_bundle
from tests.gptsovits.trees import make_tree

ENV = {"ENVDOCTOR_GPUS": "none"}
SECRET = "gradio-webhook-secret-7f3a9c"
BANK = "IBAN DE89 3704 0044 0532 0130 00 balance 12,345.67"
CHAT = "chat with mum: the door code is 4711"


def _zip_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def _evidence_logs(path: Path) -> list:
    with zipfile.ZipFile(path) as archive:
        return [n for n in archive.namelist() if n.startswith("evidence/logs/")]


def test_report_from_a_home_folder_collects_nothing_there(cli, tmp_path) -> None:
    home = tmp_path / "home"
    downloads = home / "Downloads"
    downloads.mkdir(parents=True)
    (home / "bank.log").write_text(BANK + "\nRuntimeError: CUDA error: no kernel image\n", encoding="utf-8")
    (downloads / "chat.log").write_text(CHAT + "\n", encoding="utf-8")
    (home / "logs").mkdir()
    (home / "logs" / "old.log").write_text(CHAT + "\n", encoding="utf-8")
    for cwd in (home, downloads):
        out = tmp_path / f"report-{cwd.name}.zip"
        outcome = cli(f"report run from {cwd.name}", ["report", "--no-live", "--no-scan", "-o", str(out)],
                      expect="answer", env=ENV, cwd=str(cwd))
        assert outcome.returncode == 0 and not outcome.crashed, outcome.stderr
        text = _zip_text(out)
        assert BANK not in text and CHAT not in text and "door code" not in text
        assert not _evidence_logs(out)
        assert "No GPT-SoVITS folder found" in outcome.stdout, outcome.stdout
        assert "No GPT-SoVITS folder found" in text  # said in the report too
        assert "Safe to post publicly" not in outcome.stdout + text


def test_report_with_root_at_a_home_folder_collects_nothing_there(cli, tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "bank.log").write_text(BANK + "\n", encoding="utf-8")
    out = tmp_path / "r.zip"
    outcome = cli("report --root HOME", ["report", "--root", str(home), "--no-live", "--no-scan", "-o", str(out)],
                  expect="answer", env=ENV)
    assert outcome.returncode == 0 and not outcome.crashed, outcome.stderr
    assert BANK not in _zip_text(out) and not _evidence_logs(out)


def test_links_out_of_the_bundle_are_not_followed(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.log").write_text(CHAT + "\n", encoding="utf-8")
    (outside / "launcher.bat").write_text(f"set GRADIO_TOKEN={SECRET}\r\n", encoding="utf-8")
    logs = root / "logs"
    logs.mkdir()
    (logs / "webui.log").write_text("RuntimeError: CUDA error: no kernel image is available\n", encoding="utf-8")
    os.symlink("/proc/self/environ", logs / "environ.log")
    os.symlink(outside / "private.log", root / "private.log")
    os.symlink(outside, logs / "linked")
    os.symlink(outside, root / "GPT_SoVITS" / "logs")
    (root / "go-webui.ps1").unlink()
    os.symlink(outside / "launcher.bat", root / "go-webui.ps1")
    out = tmp_path / "r.zip"
    outcome = cli("report with links out of the bundle", ["report", "--root", str(root), "--no-live", "--no-scan",
                                                          "-o", str(out)], expect="answer",
                  env=dict(ENV, GRADIO_WEBHOOK_URL=f"https://example.invalid/{SECRET}"))
    assert outcome.returncode == 0 and not outcome.crashed, outcome.stderr
    text = _zip_text(out)
    assert SECRET not in text and CHAT not in text
    assert "no kernel image" in text  # the bundle's own log is there
    report = json.loads(zipfile.ZipFile(out).read("report.json"))
    assert [Path(log["path"]).name for log in report["report"]["logs"]] == ["webui.log"]


def test_a_log_the_user_names_is_collected_wherever_it_is(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "GPT-SoVITS", "v2pro-2025")
    named = tmp_path / "Downloads" / "console.log"
    named.parent.mkdir()
    named.write_text("RuntimeError: CUDA error: no kernel image is available\n", encoding="utf-8")
    out = tmp_path / "r.zip"
    outcome = cli("report --log outside the bundle", ["report", "--root", str(root), "--no-live", "--no-scan",
                                                      "--log", str(named), "-o", str(out)], expect="answer", env=ENV)
    assert outcome.returncode == 0, outcome.stderr
    assert len(_evidence_logs(out)) == 1 and "no kernel image" in _zip_text(out)
