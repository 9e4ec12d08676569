"""The live probe runs the runtime's own interpreter: answers, crashes, hangs and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.model import Gpu
from envdoctor.probes import torchfiles
from envdoctor.probes.live import run_live_probe
from envdoctor.probes.runtime import find_runtime
from tests.support.fake_torch import FakeTorch, make_runtime, site_packages

H200 = [{"name": "NVIDIA H200", "cc": "9.0"}]
GPUS = (Gpu(0, "NVIDIA H200", (9, 0), uuid="GPU-1"),)


def _probe(tmp_path: Path, fake: FakeTorch, timeout: float = 30.0, cache: JsonCache = None):
    make_runtime(tmp_path / "runtime", fake)
    runtime = find_runtime(str(tmp_path))
    torch_dir = torchfiles.find_torch_dir(runtime)
    return run_live_probe(runtime, torch_dir, GPUS, cache=cache, timeout=timeout)


def test_live_probe_reports_what_torch_says(tmp_path: Path) -> None:
    live = _probe(tmp_path, FakeTorch(version="2.11.0+cu130", cuda="13.0", arch_list=["sm_90", "sm_120"],
                                      devices=H200))
    assert live.status == "ok"
    assert live.torch_version == "2.11.0+cu130" and live.cuda_version == "13.0"
    assert live.arch_list == ("sm_90", "sm_120")
    assert live.devices[0].compute_capability == (9, 0)


def test_arch_list_comes_from_the_build_even_without_a_usable_gpu(tmp_path: Path) -> None:
    live = _probe(tmp_path, FakeTorch(available=False, arch_list=["sm_80", "sm_90"]))
    assert live.cuda_available is False
    assert live.arch_list == ("sm_80", "sm_90")


def test_import_error_is_reported_with_its_text(tmp_path: Path) -> None:
    live = _probe(tmp_path, FakeTorch(behaviour="raise", message="[WinError 126] fbgemm.dll not found"))
    assert live.status == "failed"
    assert "fbgemm.dll" in live.error


def test_an_aborting_interpreter_is_a_crash_not_a_crash_of_envdoctor(tmp_path: Path) -> None:
    fatal = "FATAL: this function is for sm80, but was built for sm370"
    live = _probe(tmp_path, FakeTorch(behaviour="abort", message=fatal))
    assert live.status == "crashed"
    assert "SIGABRT" in live.error and "sm370" in live.error


def test_a_hanging_import_times_out(tmp_path: Path) -> None:
    live = _probe(tmp_path, FakeTorch(behaviour="hang"), timeout=1.5)
    assert live.status == "timeout"
    assert live.duration_s < 10


def test_result_is_cached_until_torch_files_change(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path / "cache", "live")
    first = _probe(tmp_path, FakeTorch(arch_list=["sm_86"], devices=H200), cache=cache)
    runtime = find_runtime(str(tmp_path))
    torch_dir = torchfiles.find_torch_dir(runtime)
    second = run_live_probe(runtime, torch_dir, GPUS, cache=cache)
    assert not first.cached and second.cached and second.arch_list == ("sm_86",)
    # An upgrade rewrites torch/version.py: the cache must not answer for the new build.
    version_py = site_packages(tmp_path / "runtime") / "torch" / "version.py"
    # (A different length too: Python's own .pyc check compares source size and mtime in whole seconds.)
    version_py.write_text(version_py.read_text().replace("2.6.0+cu124", "2.7.10+cu128"))
    third = run_live_probe(runtime, torch_dir, GPUS, cache=cache)
    assert not third.cached and third.torch_version == "2.7.10+cu128"


def test_failures_are_not_cached(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path / "cache", "live")
    _probe(tmp_path, FakeTorch(behaviour="raise"), cache=cache)
    assert not list((tmp_path / "cache").glob("live-*.json"))


def test_foreign_platform_runtime_is_skipped(tmp_path: Path) -> None:
    from envdoctor.demo import SCENARIOS, write_bundle

    write_bundle(str(tmp_path), SCENARIOS["rtx5060ti-cu124"])
    runtime = find_runtime(str(tmp_path))
    live = run_live_probe(runtime, torchfiles.find_torch_dir(runtime), GPUS)
    assert live.status == "skipped" and "windows" in live.error


@pytest.mark.slow
def test_live_probe_and_check_on_a_real_cpu_torch(cpu_torch_python: Path, capsys, monkeypatch) -> None:
    """The real thing: the runtime's own interpreter imports a real torch wheel (CPU build) in a child."""
    import json

    from envdoctor.cli.main import main
    from tests.conftest import REAL_TORCH

    runtime = find_runtime(python=str(cpu_torch_python))
    live = run_live_probe(runtime, torchfiles.find_torch_dir(runtime), GPUS)
    assert live.status == "ok", live.error
    assert live.torch_version.startswith(REAL_TORCH) and live.cuda_available is False and live.arch_list == ()
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 3060@8.6")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "580.65.06@13.0")
    assert main(["check", "--python", str(cpu_torch_python), "--json"]) == 1
    envelope = json.loads(capsys.readouterr().out)
    assert "cpu-only-torch" in {f["code"] for f in envelope["findings"]}
    assert envelope["facts"]["torch"]["local"] == "cpu"
