"""Bounded everywhere: devices, FIFOs, zip bombs, children that flood their output or leave a
grandchild holding the pipe, and user patterns that backtrack. Each ends in bounded time and memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.hostile.conftest import REPO
from tests.support.fake_torch import FakeTorch, make_runtime

ENV = {"ENVDOCTOR_GPUS": "none"}


def _report_json(tmp_path: Path) -> Path:
    """A real report.json, written by `report` itself."""
    out = tmp_path / "real.zip"
    subprocess.run([sys.executable, "-m", "envdoctor", "report", "--root", str(tmp_path), "--no-live", "--no-scan",
                    "-o", str(out)], env=dict(os.environ, PYTHONPATH=str(REPO), **ENV), capture_output=True,
                   timeout=60)
    with zipfile.ZipFile(out) as archive:
        path = tmp_path / "report.json"
        path.write_bytes(archive.read("report.json"))
    return path


@pytest.mark.parametrize("source", ["/dev/zero", "/dev/urandom"])
def test_report_from_a_device_is_refused_at_once(cli, tmp_path, source) -> None:
    started = time.monotonic()
    outcome = cli(f"report --from {source}", ["report", "--from", source, "-o", str(tmp_path / "o.zip")],
                  timeout=20)
    assert outcome.clear_error and "device" in outcome.stderr, outcome.stderr
    assert time.monotonic() - started < 15


def test_report_from_and_summarize_and_explain_over_a_fifo_do_not_block(cli, tmp_path) -> None:
    fifo = tmp_path / "reports" / "report.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    outcome = cli("report --from FIFO", ["report", "--from", str(fifo), "-o", str(tmp_path / "o.zip")], timeout=20)
    assert outcome.clear_error and "named pipe" in outcome.stderr, outcome.stderr
    outcome = cli("explain FIFO", ["explain", str(fifo)], timeout=20)
    assert outcome.clear_error and "named pipe" in outcome.stderr, outcome.stderr
    outcome = cli("summarize over a FIFO report.json", ["summarize", str(fifo.parent), "--json"], expect="answer",
                  timeout=20)
    assert outcome.returncode == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert summary["reports"] == 0 and summary["skipped"][0]["path"] == "report.json"


def test_explain_a_device_is_refused(cli) -> None:
    outcome = cli("explain /dev/zero", ["explain", "/dev/zero"], timeout=20)
    assert outcome.clear_error and "device" in outcome.stderr, outcome.stderr


def test_a_small_zip_with_a_huge_evidence_member_is_refused_quickly(cli, tmp_path) -> None:
    report = json.loads(_report_json(tmp_path).read_text(encoding="utf-8"))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("report.json", json.dumps(report))
        with archive.open("evidence/logs/01-huge.txt", "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(96):  # 96 MiB inflated, a few hundred KiB on disk: past every cap
                member.write(block)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    outcome = cli("report --from zip bomb", ["report", "--from", str(bomb), "-o", str(tmp_path / "o.zip")],
                  timeout=60)
    assert outcome.clear_error and "larger than" in outcome.stderr, outcome.stderr


def test_a_zip_whose_report_json_inflates_too_far_is_refused(cli, tmp_path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
            archive.open("report.json", "w") as member:
        member.write(b'{"a": "')
        for _ in range(20):
            member.write(b" " * (1 << 20))
        member.write(b'"}')
    outcome = cli("report --from report.json bomb", ["report", "--from", str(bomb)], timeout=60)
    assert outcome.clear_error, outcome.stderr


@pytest.mark.parametrize("mutation", ["findings-string", "gpus-dict", "report-list-items", "deep", "facts-number",
                                      "finding-params-list", "evidence-strings"])
def test_report_from_with_wrong_types_or_deep_nesting(cli, tmp_path, mutation) -> None:
    data = json.loads(_report_json(tmp_path).read_text(encoding="utf-8"))
    if mutation == "findings-string":
        data["findings"] = "oops"
    elif mutation == "gpus-dict":
        data["gpus"] = {"a": 1}
    elif mutation == "report-list-items":
        data["report"]["logs"] = [1, "x", None]
    elif mutation == "deep":
        value: object = "x"
        for _ in range(5000):
            value = {"k": [value]}
        data["facts"] = value
    elif mutation == "facts-number":
        data["facts"] = 12
    elif mutation == "finding-params-list":
        data["findings"] = [{"code": "torch-arch-missing", "severity": "error", "params": [1, 2]}]
    elif mutation == "evidence-strings":
        data["report"]["evidence"] = "all"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data) if mutation != "deep" else _deep_json(data), encoding="utf-8")
    outcome = cli(f"report --from with {mutation}", ["report", "--from", str(path), "-o", str(tmp_path / "o.zip")],
                  expect="any")
    assert not outcome.crashed and not outcome.hung, outcome.stderr
    outcome = cli(f"summarize with {mutation}", ["summarize", str(tmp_path), "--json"], expect="any")
    assert not outcome.crashed and not outcome.hung, outcome.stderr


def _deep_json(data: dict) -> str:
    data = dict(data, facts="__DEEP__")
    return json.dumps(data).replace('"__DEEP__"', '{"k": [' * 5000 + '"x"' + "]}" * 5000)


def _script_runtime(tmp_path: Path, body: str) -> Path:
    """A GPT-SoVITS folder whose runtime/bin/python3 is a shell script (with a fake torch beside it)."""
    root = tmp_path / "gsv"
    python = make_runtime(root / "runtime", FakeTorch())
    os.remove(python)
    python.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    python.chmod(0o755)
    return root


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid")
@pytest.mark.parametrize("ends", ["exits", pytest.param("hangs", marks=pytest.mark.slow)])
def test_a_grandchild_holding_the_pipe_does_not_stretch_the_timeout(cli, tmp_path, ends) -> None:
    tail = "exit 0" if ends == "exits" else "sleep 120"
    root = _script_runtime(tmp_path, f"setsid sleep 120 &\n{tail}")
    started = time.monotonic()
    outcome = cli(f"live probe with a setsid grandchild ({ends})",
                  ["check", "--root", str(root), "--live-timeout", "3", "--no-scan", "--json"], expect="answer",
                  env=ENV, timeout=60)
    elapsed = time.monotonic() - started
    assert not outcome.hung and not outcome.crashed, outcome.stderr
    assert elapsed < 30, elapsed
    envelope = json.loads(outcome.stdout)
    assert envelope["facts"]["live"]["status"] in ("timeout", "failed")
    subprocess.run(["pkill", "-f", "^sleep 120$"], check=False) if False else None  # (left to their own timer)


# The probes' runner, and the upgrade's (pip, the stage's checks), which ties children to envdoctor's life.
RUNNERS = [("envdoctor.probes.runner", "SubprocessRunner"),
           pytest.param("envdoctor.upgrade.proc", "StageRunner", marks=pytest.mark.slow)]  # one in the quick loop


@pytest.mark.parametrize("module, runner", RUNNERS)
def test_runner_timeout_ends_the_wait_with_a_grandchild_holding_the_pipe(module: str, runner: str) -> None:
    import importlib

    started = time.monotonic()
    result = getattr(importlib.import_module(module), runner)().run(["sh", "-c", "setsid sleep 30 & sleep 30"],
                                                                    timeout=1)
    assert result.timed_out
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("module, runner", RUNNERS)
def test_runner_memory_is_bounded_when_a_child_floods(tmp_path, module: str, runner: str) -> None:
    probe = ("import resource, sys\n"
             f"from {module} import {runner}\n"
             f"r = {runner}().run(['sh', '-c', 'head -c 300000000 /dev/zero; echo; echo ENVDOCTOR-LIVE {{}}'],"
             " timeout=120)\n"
             "print(len(r.stdout), r.stdout.endswith('ENVDOCTOR-LIVE {}\\n'),"
             " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    length, answer_kept, max_rss_kib = done.stdout.split()
    assert answer_kept == "True"
    assert int(length) < 64 * 1024 * 1024
    assert int(max_rss_kib) < 250 * 1024, max_rss_kib  # 300 MB went through; envdoctor stayed small


def test_check_with_a_flooding_runtime_stays_small(cli, tmp_path) -> None:
    root = _script_runtime(tmp_path, "head -c 200000000 /dev/zero")
    wrapper = ("import resource, subprocess, sys\n"
               "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "envdoctor", "check", "--root",
                           str(root), "--no-scan", "--live-timeout", "60"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO), **ENV))
    assert int(done.stdout.strip()) < 250 * 1024, done.stdout


def test_a_backtracking_pattern_in_a_user_matrix_is_stopped_and_named(cli, tmp_path) -> None:
    matrix = tmp_path / "matrix"
    shutil.copytree(REPO / "matrices", matrix)
    errors = matrix / "errors.yaml"
    text = errors.read_text(encoding="utf-8")
    marker = "    pattern: \"CUBLAS_STATUS_NOT_SUPPORTED\""
    assert marker in text
    errors.write_text(text.replace(marker, "    pattern: \"(a+)+$\""), encoding="utf-8")
    log = tmp_path / "webui.log"
    log.write_text("a" * 60 + "!\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n",
                   encoding="utf-8")
    started = time.monotonic()
    outcome = cli("explain with a backtracking user pattern", ["explain", str(log), "--json"], expect="answer",
                  env={"ENVDOCTOR_MATRIX_DIR": str(matrix)}, timeout=60)
    assert not outcome.hung and not outcome.crashed, outcome.stderr
    assert time.monotonic() - started < 30
    envelope = json.loads(outcome.stdout)
    assert envelope["slow_patterns"] and envelope["matches"], envelope
