"""Golden report.md / report.json, determinism, --from re-rendering, bounded size and speed."""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Dict

import pytest
from report_machine import Machine, make_machine, use_environment

from envdoctor.cli.main import main
from envdoctor.probes.collect import CollectOptions
from envdoctor.report.bundle import render_files
from envdoctor.report.document import redact_document
from envdoctor.report.markdown import MAX_CHARS
from envdoctor.report.redact import Redactor
from envdoctor.support.gather import ReportOptions, gather

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("ENVDOCTOR_UPDATE_GOLDEN") == "1"
# What differs between machines that run the tests (not between two runs on one machine).
FIXED_SYSTEM = {"os": "TestOS 1.0", "os_version": "#1", "machine": "x86_64", "envdoctor": "0.0.0",
                "envdoctor_python": "3.11.0"}


def _rendered(machine: Machine, lang: str) -> Dict[str, bytes]:
    options = ReportOptions(collect=CollectOptions(root=str(machine.root)))
    raw = gather(options, lang)
    raw.envelope["report"]["system"] = FIXED_SYSTEM
    raw.envelope["envdoctor_version"] = "0.0.0"
    files, _envelope = render_files(redact_document(raw, Redactor.for_machine()))
    return files


def _check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"golden file {name} missing: run with ENVDOCTOR_UPDATE_GOLDEN=1"
    assert data.decode("utf-8") == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_markdown_and_json_match_the_golden_files(machine: Machine, lang: str) -> None:
    files = _rendered(machine, lang)
    _check_golden(f"report.{lang}.md", files["report.md"])
    _check_golden(f"report.{lang}.json", files["report.json"])


def test_same_inputs_give_a_byte_identical_zip_apart_from_the_time(machine: Machine, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    args = ["report", "--root", str(machine.root), "--lang", "zh_CN"]
    assert main(args + ["-o", str(tmp_path / "a.zip")]) == 0
    assert main(args + ["-o", str(tmp_path / "b.zip")]) == 0
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795003600")  # one hour later
    assert main(args + ["-o", str(tmp_path / "c.zip")]) == 0
    a, c = _entries(tmp_path / "a.zip"), _entries(tmp_path / "c.zip")
    assert a.keys() == c.keys()
    changed = sorted(name for name in a if a[name] != c[name])
    assert changed == ["report.html", "report.json", "report.md"]
    for name in changed:
        assert a[name].replace(b"2026-11-18T11:06:40Z", b"T") == c[name].replace(b"2026-11-18T12:06:40Z", b"T")
    capsys.readouterr()


def _entries(path: Path) -> Dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_from_rerenders_an_existing_report_in_another_language(machine: Machine, tmp_path: Path, capsys) -> None:
    first = tmp_path / "first.zip"
    assert main(["report", "--root", str(machine.root), "-o", str(first)]) == 0
    original = _entries(first)
    (tmp_path / "report.json").write_bytes(original["report.json"])
    again = tmp_path / "again.zip"
    assert main(["report", "--from", str(tmp_path / "report.json"), "-o", str(again)]) == 0
    rerendered = _entries(again)
    for name in ("report.md", "report.html"):
        # Same text; only the list of evidence files differs (a bare report.json carries none).
        assert original[name].split(b"## Files in this report")[0] == rerendered[name].split(b"## Files")[0] \
            if name == "report.md" else b"RTX 5060 Ti" in rerendered[name]
    chinese = tmp_path / "zh.zip"
    assert main(["report", "--from", str(first), "--lang", "zh_CN", "-o", str(chinese)]) == 0
    zh = _entries(chinese)
    md = zh["report.md"].decode("utf-8")
    assert "显卡" in md and "最重要的问题" in md and "FP16 推理" not in md or "半精度" not in md
    assert json.loads(zh["report.json"])["lang"] == "zh_CN"
    # The log's known error is drawn again from its code (errors.yaml) in the reader's language.
    assert "torch 自带的 NVRTC 比显卡旧" in md and "把 torch 升级到 CUDA 12.8 以上的版本" in md
    assert "torch's NVRTC predates the GPU" not in md
    explained = json.loads(zh["report.json"])["report"]["logs"][0]["explain"]
    assert (explained["code"], explained["cause"]) == ("nvrtc-unknown-arch", "torch 自带的 NVRTC 比显卡旧")
    assert "evidence/nvidia-smi-q.txt" in zh  # a zip brings its evidence along
    capsys.readouterr()


def test_from_refuses_what_is_not_a_report(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}', encoding="utf-8")
    assert main(["report", "--from", str(bogus), "-o", str(tmp_path / "o.zip")]) == 3
    assert "not an envdoctor report" in capsys.readouterr().err
    assert not (tmp_path / "o.zip").exists()


def test_missing_log_is_a_clear_error_and_writes_nothing(machine: Machine, tmp_path: Path, capsys) -> None:
    output = tmp_path / "o.zip"
    assert main(["report", "--root", str(machine.root), "--log", str(tmp_path / "nope.log"), "-o", str(output)]) == 3
    assert "does not exist" in capsys.readouterr().err
    assert not output.exists() and list(tmp_path.glob("*.tmp")) == []


def test_huge_log_and_many_packages_keep_the_report_small_and_fast(tmp_path: Path, monkeypatch, capsys) -> None:
    machine = make_machine(tmp_path, posix_runtime=True)
    use_environment(monkeypatch, machine.env)
    site = next((machine.root / "runtime" / "lib").glob("python3.*/site-packages"))
    for index in range(1500):
        (site / f"package_{index:04d}-1.0.{index}.dist-info").mkdir()
    huge = tmp_path / "huge.log"
    with open(huge, "wb") as handle:  # 2 GiB, sparse: only its end holds text
        handle.truncate(2 * 1024 ** 3)
        handle.seek(0, os.SEEK_END)
        handle.write(("x" * 300 + "\n").encode() * 2000 + b"RuntimeError: CUDA error: no kernel image\n")
    output = tmp_path / "o.zip"
    started = time.monotonic()
    assert main(["report", "--root", str(machine.root), "--log", str(huge), "-o", str(output)]) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"report took {elapsed:.2f} s"
    files = _entries(output)
    assert len(files["report.md"].decode("utf-8")) <= MAX_CHARS
    assert output.stat().st_size < 1024 ** 2
    log_entry = next(name for name in files if name.endswith("huge.log.txt"))
    assert len(files[log_entry]) <= 64 * 1024
    assert b"no kernel image" in files["report.md"]
    envelope = json.loads(files["report.json"])
    assert envelope["report"]["logs"][0]["truncated"] is True
    assert envelope["report"]["logs"][0]["bytes"] > 2 * 1024 ** 3
    capsys.readouterr()


def test_json_mode_prints_the_same_envelope_as_report_json(machine: Machine, tmp_path: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["report", "--root", str(machine.root), "--json", "-o", str(tmp_path / "o.zip")]) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads(_entries(tmp_path / "o.zip")["report.json"])
    assert printed == stored
    assert printed["schema"] == "envdoctor.report" and printed["command"] == "report"
    assert printed["report"]["headline"]["code"] == "nvrtc-too-old"


def test_doctor_says_plainly_when_it_is_not_available(machine: Machine, tmp_path: Path, capsys) -> None:
    assert main(["report", "--root", str(machine.root), "--doctor", "-o", str(tmp_path / "o.zip")]) == 0
    envelope = json.loads(_entries(tmp_path / "o.zip")["report.json"])
    doctor = envelope["report"]["doctor"]
    assert doctor["requested"] is True
    if doctor["available"] is False:  # until the doctor branch lands
        assert "not available" in doctor["reason"]
    capsys.readouterr()


def test_a_report_is_written_even_when_the_runtime_cannot_be_found(machine: Machine, tmp_path: Path, capsys) -> None:
    shutil.rmtree(machine.root / "runtime")
    output = tmp_path / "o.zip"
    assert main(["report", "--root", str(machine.root), "-o", str(output)]) == 0
    files = _entries(output)
    envelope = json.loads(files["report.json"])
    assert envelope["verdict"] == "could-not-check" and envelope["error"]["key"] == "error.no_runtime"
    assert envelope["gpus"][0]["name"] == "NVIDIA GeForce RTX 5060 Ti"
    md = files["report.md"].decode("utf-8")
    assert "## ❓ envdoctor could not check this runtime." in md and "No Python runtime found in" in md
    assert "evidence/nvidia-smi-q.txt" in files and any(name.startswith("evidence/logs/") for name in files)
    capsys.readouterr()


def test_doctor_without_a_runtime_says_why_instead_of_crashing(machine: Machine, tmp_path: Path, capsys) -> None:
    shutil.rmtree(machine.root / "runtime")
    output = tmp_path / "o.zip"
    assert main(["report", "--root", str(machine.root), "--doctor", "-o", str(output)]) == 0
    envelope = json.loads(_entries(output)["report.json"])
    doctor = envelope["report"]["doctor"]
    assert doctor["requested"] is True and doctor["error"] == envelope["error"]["message"]
    assert "No Python runtime found in" in doctor["error"]
    capsys.readouterr()
