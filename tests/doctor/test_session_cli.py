"""doctor end to end: sessions over GPUs with gating and progress, and the CLI (text and --json)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import List

import pytest

from envdoctor.cli.main import main
from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import TEST_NAMES, select
from envdoctor.doctor.session import Event, run_smoke_tests
from envdoctor.errors import UsageError
from envdoctor.model import Distribution, Driver, Facts, Gpu, GpuFacts, Runtime, TorchBuild
from envdoctor.probes.runner import SubprocessRunner

from .fake_runtime import FATAL_SM, NVRTC_TEXT

RTX5060 = "NVIDIA GeForce RTX 5060 Ti@12.0@16311"


class RecordingRunner(SubprocessRunner):
    """The real runner, whose child registration hooks count the worker processes doctor starts."""

    def __init__(self) -> None:
        super().__init__(on_spawn=self._spawned, on_exit=self._exited)
        self.started: List[int] = []
        self.exited: List[int] = []

    def _spawned(self, pid: int) -> None:
        self.started.append(pid)

    def _exited(self, pid: int) -> None:
        self.exited.append(pid)


TWO_GPUS = (Gpu(0, "RTX 5060 Ti", (12, 0)), Gpu(1, "RTX 3060", (8, 6)))


def _facts(python: Path, gpus=TWO_GPUS, torch=True,
           platform="linux", onnxruntime=False) -> Facts:
    runtime = Runtime(str(python.parent.parent), str(python), "posix-prefix", platform, "3.11", ())
    build = TorchBuild("2.6.0+cu124", "2.6.0", "cu124", "12.4", None, None, None, "/x/torch") if torch else None
    dists = (Distribution("onnxruntime-gpu", "1.19.2"),) if onnxruntime else ()
    return Facts(GpuFacts(tuple(gpus), Driver("576.02", "12.9")), runtime, build, dists)


def test_catalog_selection() -> None:
    assert [t.name for t in select()] == [n for n in TEST_NAMES if n != "extension"]
    assert [t.name for t in select(["fft"])] == ["fft-fp32", "fft-fp16"]
    assert [t.name for t in select(["sdpa-*,cuda"], ["sdpa-default"])] == ["cuda", "sdpa-efficient"]
    assert "extension" in [t.name for t in select(extension="/x.so")]
    with pytest.raises(UsageError) as info:
        select(["nope"])
    assert info.value.key == "error.smoke_unknown_test"


def test_every_script_compiles_as_old_python_sees_it() -> None:
    from envdoctor.doctor.catalog import TESTS, script_source, worker_source

    for test in TESTS:
        compile(script_source(test), test.script, "exec", dont_inherit=True)
    compile(worker_source(), "_harness.py", "exec", dont_inherit=True)


def test_session_runs_every_test_on_every_gpu_with_progress(fake_python: Path, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"fail": {"sdpa-efficient": "abort"}}))
    events: List[Event] = []
    tests = select(["cuda", "sdpa", "elementwise"])
    results = run_smoke_tests(_facts(fake_python), tests, progress=events.append)
    assert [(r.test, r.gpu_index) for r in results] == [(t.name, g) for g in (0, 1) for t in tests]
    assert {r.test: r.status for r in results if r.gpu_index == 1}["sdpa-efficient"] == m.CRASHED
    assert events[0].kind == "plan" and events[0].total == 8
    for gpu in (0, 1):  # the GPUs run side by side; each one's tests start and end in turn
        mine = [(e.kind, e.test) for e in events[1:] if e.gpu_index == gpu]
        assert mine == [(kind, t.name) for t in tests for kind in ("start", "done")]
        assert [e.result.test for e in events if e.kind == "done" and e.gpu_index == gpu] == [t.name for t in tests]


def test_one_worker_per_gpu_for_the_whole_catalogue(fake_python: Path) -> None:
    runner = RecordingRunner()
    results = run_smoke_tests(_facts(fake_python, onnxruntime=True), select(), runner=runner)
    assert {r.status for r in results} == {m.PASSED}, [(r.test, r.status, r.error) for r in results if r.error]
    assert len(results) == 2 * len(select())
    assert len(runner.started) == 2 and sorted(runner.exited) == sorted(runner.started)
    # One process per GPU: the GPU it was given is the one every test of that GPU saw.
    for r in results:
        if "device" in r.details:
            assert r.details["device"]["name"].endswith(f"[{r.gpu_index}|PCI_BUS_ID]")


def test_a_crash_ends_the_worker_and_the_rest_run_in_a_fresh_one(fake_python: Path, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"fail": {"sdpa-efficient": "abort",
                                                                    "rfft-float16": "no-kernel"}}))
    runner = RecordingRunner()
    results = run_smoke_tests(_facts(fake_python, gpus=TWO_GPUS[:1], onnxruntime=True), select(), runner=runner)
    status = {r.test: r.status for r in results}
    assert status["sdpa-efficient"] == m.CRASHED and status["fft-fp16"] == m.FAILED
    assert [r.test for r in results if r.status != m.PASSED] == ["sdpa-efficient", "fft-fp16"]
    # cuda..sdpa-efficient in the first worker; sdpa-default..fft-fp16 in a second (it failed);
    # onnxruntime-cuda in a third: a failure poisons the context for what comes after it.
    assert len(runner.started) == 3 and sorted(runner.exited) == sorted(runner.started)
    crashed = next(r for r in results if r.test == "sdpa-efficient")
    assert crashed.exit == "SIGABRT" and FATAL_SM in (crashed.error or "") and crashed.stage == "sdpa-fp16-efficient"


def test_progress_view_shows_each_gpus_running_test_and_its_time() -> None:
    from rich.console import Console

    from envdoctor.doctor.progress import SmokeProgress
    from envdoctor.i18n import message

    result = m.SmokeResult("cuda", 0, m.PASSED)
    with SmokeProgress(Console(file=io.StringIO()), lambda key, **kw: message("en", key, **kw)) as view:
        for event in (Event("plan", 4), Event("start", 4, "cuda", 0), Event("start", 4, "cuda", 1),
                      Event("done", 4, "cuda", 0, result), Event("start", 4, "matmul-fp16", 0)):
            view(event)
        screen = Console(record=True, width=120, file=io.StringIO())
        screen.print(view.renderable())
    lines = screen.export_text().splitlines()
    assert "envdoctor doctor" in lines[0] and "1/4" in lines[0]
    assert "Running matmul-fp16 on GPU 0" in lines[1] and lines[1].rstrip().endswith(" s")
    assert "Running cuda on GPU 1" in lines[2] and lines[2].rstrip().endswith(" s")


def test_reuse_off_starts_a_worker_per_test(fake_python: Path) -> None:
    runner = RecordingRunner()
    results = run_smoke_tests(_facts(fake_python, gpus=TWO_GPUS[:1]), select(["cuda", "matmul"]), runner=runner,
                              reuse=False)
    assert [r.status for r in results] == [m.PASSED] * 3 and len(runner.started) == 3


def test_cuda_gate_skips_the_rest_without_starting_processes(fake_python: Path, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"available": False}))
    runner = RecordingRunner()
    results = run_smoke_tests(_facts(fake_python, gpus=()), select(), runner=runner)
    assert len(runner.started) == 1  # only cuda's worker: the facts list no onnxruntime, the rest is gated
    assert results[0].test == "cuda" and results[0].reason == "no-cuda"
    skipped = [r for r in results if r.test not in ("cuda", "onnxruntime-cuda")]
    assert skipped and all(r.status == m.SKIPPED and r.reason == "no-cuda" for r in skipped)
    assert results[-1].reason == "no-onnxruntime"


def test_preconditions_skip_without_processes(fake_python: Path) -> None:
    runner = RecordingRunner()
    results = run_smoke_tests(_facts(fake_python, torch=False), select(["cuda", "onnxruntime-cuda"]), runner=runner)
    assert [r.reason for r in results if r.gpu_index == 0] == ["no-torch", "no-onnxruntime"]
    foreign = run_smoke_tests(_facts(fake_python, platform="windows"), select(["cuda"]), runner=runner)
    assert foreign[0].reason == "foreign-runtime"
    assert runner.started == []


def _doctor_json(capsys, *argv: str) -> dict:
    code = main(["doctor", "--json", *argv])
    payload = json.loads(capsys.readouterr().out)
    payload["_exit"] = code
    return payload


def test_cli_memo_machine(fake_python: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", RTX5060)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps(
        {"arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "compute_90"],
         "fail": {"sdpa-efficient": "abort", "rfft-float32": "nvrtc", "rfft-float16": "nvrtc"},
         "nvrtc_text": NVRTC_TEXT}))
    out = _doctor_json(capsys, "--python", str(fake_python), "--skip", "onnxruntime-cuda,conv1d")
    assert out["schema"] == "envdoctor.doctor" and out["command"] == "doctor"
    assert out["_exit"] == 2 and out["verdict"] == "will-fail"
    status = {s["test"]: s for s in out["smoke"]}
    assert status["sdpa-efficient"]["status"] == "crashed" and status["sdpa-efficient"]["exit"] == "SIGABRT"
    assert status["sdpa-efficient"]["known_error"] == "fp16-attention-arch-mismatch"
    assert FATAL_SM in status["sdpa-efficient"]["error"]
    assert status["fft-fp32"]["known_error"] == "nvrtc-invalid-arch"
    assert "conv1d-fp32" not in status and "onnxruntime-cuda" not in status
    codes = [f["code"] for f in out["findings"]]
    assert "smoke-sdpa-efficient-crashed" in codes and "smoke-fft-fp32-failed" in codes
    fp16 = next(f for f in out["findings"] if f["code"] == "fp16-attention-abort-risk")
    assert any("confirmed by smoke test sdpa-efficient: crashed" in e for e in fp16["evidence"])
    rec = out["recommendation"]
    assert rec["fp16"]["value"] is False and rec["fp16"]["source"] == "smoke"
    assert rec["v2pro_sv"]["value"] == "cpu"
    assert rec["arch_list"]["value"] == "12.0" and "only steers CUDA extensions" in rec["arch_list"]["note"]
    assert rec["upgrade_needed"]["value"] is True


def test_cli_healthy_machine_is_ready_and_disproves_nothing_it_should_not(fake_python: Path, capsys,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 3060@8.6")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"cc": [8, 6]}))
    out = _doctor_json(capsys, "--python", str(fake_python), "--only", "cuda,sdpa,fft-fp32,elementwise,fft-fp16")
    assert out["_exit"] == 0, [f["code"] for f in out["findings"] if f["severity"] != "ok"]
    assert {s["status"] for s in out["smoke"]} == {"passed"}
    assert out["recommendation"]["fp16"]["value"] is True
    assert out["recommendation"]["upgrade_needed"]["value"] is False


def test_cli_text_output_and_chinese(fake_python: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", RTX5060)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    monkeypatch.setenv("ENVDOCTOR_FAKE_TORCH", json.dumps({"fail": {"sdpa-efficient": "abort"}}))
    monkeypatch.setenv("COLUMNS", "200")
    code = main(["doctor", "--python", str(fake_python), "--only", "sdpa-efficient", "--lang", "zh_CN"])
    text = capsys.readouterr().out
    assert code == 2
    assert "冒烟测试 sdpa-efficient 在 NVIDIA GeForce RTX 5060 Ti 上导致进程崩溃" in text
    assert "半精度（FP16）推理" in text and "关闭" in text
    assert "TORCH_CUDA_ARCH_LIST 只影响在本机上编译的 CUDA 扩展" in text


def test_cli_usage_errors_exit_3(fake_python: Path, capsys) -> None:
    assert main(["doctor", "--python", str(fake_python), "--only", "warp-drive"]) == 3
    assert "There is no smoke test named warp-drive" in capsys.readouterr().err
    assert main(["doctor", "--python", str(fake_python), "--extension", "/no/such.so"]) == 3
    assert main(["doctor", "--list-tests", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed["tests"]] == list(TEST_NAMES)
