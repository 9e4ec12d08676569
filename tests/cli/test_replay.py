"""Replaying an unchanged check: same output and exit code without running the probes; any change
to what the answer was read from (torch files, libraries, configuration, driver) computes it anew."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import envdoctor.check.pipeline as pipeline
import envdoctor.check.replay as replay
from envdoctor.cli.main import main
from tests.support.fake_torch import FakeTorch, make_runtime, site_packages

ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.7.1+cu128", cuda="12.8", arch_list=ARCHS,
                                                 devices=[{"name": "NVIDIA GeForce RTX 5060 Ti", "cc": "12.0"}]))
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    driver = {"text": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  576.02\n0000:01:00.0\nModel: RTX 5060 Ti"}
    # The driver's /proc files are the hardware edge: the fingerprint is what they would read.
    monkeypatch.setattr(replay, "driver_fingerprint", lambda: driver["text"])
    return tmp_path, driver


def _check(root: Path, capsys, *extra: str):
    code = main(["check", "--root", str(root), *extra])
    return code, capsys.readouterr().out


def _forbid_computing(monkeypatch) -> None:
    def computed(*args, **kwargs):
        raise AssertionError("the check was computed, not replayed")

    monkeypatch.setattr(pipeline, "run_check", computed)


def test_an_unchanged_check_is_replayed(machine, capsys, monkeypatch) -> None:
    root, _ = machine
    first = _check(root, capsys)
    assert first[0] == 0 and "Ready" in first[1]
    as_json = _check(root, capsys, "--json")  # other arguments: another answer, computed once
    assert json.loads(as_json[1])["verdict"] == "ready"
    _forbid_computing(monkeypatch)
    assert _check(root, capsys) == first
    assert _check(root, capsys, "--json") == as_json


@pytest.mark.parametrize("change", ["torch-version", "new-library", "package-installed", "launcher", "driver",
                                    "override", "disabled"])
def test_any_change_is_computed_anew(machine, capsys, monkeypatch, change) -> None:
    root, driver = machine
    _check(root, capsys)
    site = site_packages(root / "runtime")
    calls = []
    real = pipeline.run_check
    monkeypatch.setattr(pipeline, "run_check", lambda *a, **k: calls.append(1) or real(*a, **k))
    if change == "torch-version":
        version = site / "torch" / "version.py"
        version.write_text(version.read_text().replace("2.7.1+cu128", "2.7.10+cu128"))
    elif change == "new-library":
        (site / "torch" / "lib" / "libtorch_cuda.so").write_bytes(b"\x7fELF")
    elif change == "package-installed":
        (site / "onnxruntime_gpu-1.20.0.dist-info").mkdir()
    elif change == "launcher":
        (root / "go-webui.bat").write_text("runtime\\python.exe -I webui.py zh_CN\r\n")
    elif change == "driver":
        driver["text"] = driver["text"].replace("576.02", "590.10")
    elif change == "override":
        monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 3060@8.6")
    elif change == "disabled":
        monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    _check(root, capsys)
    assert calls == [1]


def test_an_unfinished_live_probe_is_not_replayed(tmp_path, capsys, monkeypatch) -> None:
    make_runtime(tmp_path / "runtime", FakeTorch(behaviour="hang"))
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 3060@8.6")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setattr(replay, "driver_fingerprint", lambda: "driver")
    assert main(["check", "--root", str(tmp_path), "--live-timeout", "1"]) == 1  # live-timeout: a warning
    capsys.readouterr()
    assert replay.replay(["check", "--root", str(tmp_path), "--live-timeout", "1"]) is None


def test_no_driver_files_no_replay(machine, capsys, monkeypatch) -> None:
    root, _ = machine
    monkeypatch.setattr(replay, "driver_fingerprint", lambda: None)  # no NVIDIA driver
    _check(root, capsys)
    assert replay.replay(["check", "--root", str(root)]) is None


def test_windows_replays_until_the_driver_is_reinstalled(machine, capsys, monkeypatch, tmp_path_factory) -> None:
    from tests.probes.test_windriver import WindowsDisk

    root, _ = machine
    disk = WindowsDisk(tmp_path_factory.mktemp("windows-disk"))
    disk.install_driver("nv_dispi.inf_amd64_1a2b3c4d5e6f7a8b")
    monkeypatch.setattr(replay, "driver_fingerprint", disk.fingerprint)
    first = _check(root, capsys)
    calls = []
    real = pipeline.run_check
    monkeypatch.setattr(pipeline, "run_check", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert _check(root, capsys) == first and calls == []  # replayed
    disk.install_driver("nv_dispi.inf_amd64_1a2b3c4d5e6f7a8b")  # a repair install of the same driver
    again = _check(root, capsys)
    assert calls == [1] and again[0] == first[0]  # computed anew (the live probe's answer now from its cache)
