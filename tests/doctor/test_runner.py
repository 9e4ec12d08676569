"""Each smoke script in a real child process of a fake runtime that fails the way real ones do."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Optional

import pytest

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import get
from envdoctor.doctor.findings import tag_known_errors
from envdoctor.doctor.runner import classify, exit_name, run_one
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import Gpu, Runtime
from envdoctor.probes.runner import RunResult, SubprocessRunner

from .conftest import MATRIX
from .fake_runtime import DRIVER_OLD, FATAL_SM, NO_KERNEL, NVRTC_TEXT, scenario_env

GPU = Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0), uuid="GPU-5060ti-0000", source="test")


def _runtime(python: Path) -> Runtime:
    return Runtime(str(python.parent.parent), str(python), "posix-prefix", "linux", "3.11", ())


def _run(python: Path, test: str, gpu: Optional[Gpu] = GPU, timeout: Optional[float] = None, env=None,
         **scenario) -> m.SmokeResult:
    return run_one(get(test), _runtime(python), gpu, SubprocessRunner(), timeout=timeout,
                   env=env or scenario_env(**scenario))


def _known(result: m.SmokeResult) -> Optional[str]:
    return tag_known_errors([result], load_matrix(str(MATRIX)).known_errors)[0].known_error


@pytest.mark.parametrize("test", ["cuda", "elementwise", "matmul-fp32", "matmul-fp16", "conv1d-fp32", "conv1d-fp16",
                                  "sdpa-efficient", "sdpa-default", "fft-fp32", "fft-fp16", "onnxruntime-cuda"])
def test_every_script_passes_on_a_working_runtime(fake_python: Path, test: str) -> None:
    result = _run(fake_python, test)
    assert result.status == m.PASSED, result
    assert result.duration_s > 0
    assert result.exit is None


def test_the_child_sees_only_the_selected_gpu_in_pci_order(fake_python: Path) -> None:
    result = _run(fake_python, "cuda")
    assert result.details["device"]["name"].endswith("[GPU-5060ti-0000|PCI_BUS_ID]")
    assert result.details["properties"]["cc"] == "12.0"
    no_uuid = _run(fake_python, "cuda", gpu=Gpu(3, "X", (8, 6)))
    assert no_uuid.details["device"]["name"].endswith("[3|PCI_BUS_ID]")


def test_fp16_attention_abort_is_a_crash_with_the_fatal_line(fake_python: Path) -> None:
    result = _run(fake_python, "sdpa-efficient", fail={"sdpa-efficient": "abort"})
    assert result.status == m.CRASHED
    assert result.exit == "SIGABRT"
    assert FATAL_SM in (result.error or "")
    assert result.stage == "sdpa-fp16-efficient"
    # faulthandler names the Python line that was running when the process died.
    assert "Fatal Python error: Aborted" in (result.error or "")
    assert _known(result) == "fp16-attention-arch-mismatch"


def test_default_backend_is_not_forced_to_the_efficient_kernel(fake_python: Path) -> None:
    result = _run(fake_python, "sdpa-default", fail={"sdpa-efficient": "abort"})
    assert result.status == m.PASSED


def test_windows_style_abort_exit_code_3_is_a_crash(fake_python: Path) -> None:
    result = _run(fake_python, "sdpa-default", fail={"sdpa-default": "abort-win"})
    assert result.status == m.CRASHED
    assert result.exit == "abort() (exit code 3)"
    assert FATAL_SM in (result.error or "")


def test_segfault_is_a_crash(fake_python: Path) -> None:
    result = _run(fake_python, "conv1d-fp16", fail={"conv1d-float16": "segv"})
    assert result.status == m.CRASHED
    assert result.exit == "SIGSEGV"
    assert result.stage == "conv1d"


def test_nvrtc_failure_of_rfft_is_a_failure_with_the_real_text(fake_python: Path) -> None:
    result = _run(fake_python, "fft-fp32", fail={"rfft-float32": "nvrtc"}, nvrtc_text=NVRTC_TEXT)
    assert result.status == m.FAILED
    assert "nvrtc: error: invalid value for --gpu-architecture (-arch)" in (result.error or "")
    assert result.details["cpu_ok"] is True  # the CPU path worked: speaker verification can move there
    assert _known(result) == "nvrtc-invalid-arch"


def test_no_kernel_image_is_a_failure(fake_python: Path) -> None:
    result = _run(fake_python, "elementwise", fail={"elementwise": "no-kernel"}, no_kernel_text=NO_KERNEL)
    assert result.status == m.FAILED
    assert result.error.startswith("RuntimeError: CUDA error: no kernel image is available")
    assert _known(result) == "no-kernel-image"


def test_wrong_results_are_a_failure(fake_python: Path) -> None:
    result = _run(fake_python, "matmul-fp16", fail={"allclose": "false"})
    assert result.status == m.FAILED
    assert "differs from the CPU reference" in result.error


def test_hang_is_killed_at_the_timeout(fake_python: Path) -> None:
    result = _run(fake_python, "matmul-fp32", timeout=3, fail={"matmul-float32": "hang"})
    assert result.status == m.TIMEOUT
    assert result.stage == "matmul"
    assert 2.5 < result.duration_s < 15


def test_cuda_unavailable_with_a_gpu_present_fails_with_torchs_warning(fake_python: Path) -> None:
    result = _run(fake_python, "cuda", available=False, warning=DRIVER_OLD)
    assert result.status == m.FAILED
    assert "The NVIDIA driver on your system is too old" in result.error
    assert _known(result) == "cuda-driver-insufficient"


def test_cuda_unavailable_without_a_gpu_is_a_skip(fake_python: Path) -> None:
    result = _run(fake_python, "cuda", gpu=None, available=False)
    assert result.status == m.SKIPPED and result.reason == "no-cuda"
    other = _run(fake_python, "fft-fp32", gpu=None, available=False)
    assert other.status == m.SKIPPED and other.reason == "no-cuda"


def test_import_failure_is_a_failure_with_the_windows_text(fake_python: Path) -> None:
    text = '[WinError 126] 找不到指定的模块。 Error loading "C:\\runtime\\Lib\\site-packages\\torch\\lib\\c10.dll"'
    result = _run(fake_python, "matmul-fp32", fail={"import": text})
    assert result.status == m.FAILED
    assert "找不到指定的模块" in result.error and result.stage == "import-torch"


def test_onnxruntime_falling_back_to_cpu_is_a_failure(fake_python: Path) -> None:
    env = scenario_env()
    env["ENVDOCTOR_FAKE_ORT"] = "fallback"
    result = _run(fake_python, "onnxruntime-cuda", env=env)
    assert result.status == m.FAILED
    assert "fell back to CPUExecutionProvider" in result.error
    assert "onnxruntime_providers_cuda.dll" in result.error  # ORT's own log line, from stderr
    assert _known(result) == "onnxruntime-cuda-provider"


def test_missing_interpreter_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    result = _run(tmp_path / "bin" / "python", "cuda")
    assert result.status == m.FAILED and "could not start" in result.error


# -- classification of exits that Linux cannot produce, and of odd output -----------------------------

def _result(returncode: Optional[int], stdout: str = "", stderr: str = "", **kw) -> RunResult:
    return RunResult(("python",), returncode, stdout, stderr, 1.5, **kw)


@pytest.mark.parametrize("code, name", [(0xC0000409, "0xC0000409 (fail-fast / abort)"),
                                        (0xC0000005, "0xC0000005 (access violation)"),
                                        (0xC0000142, "0xC0000142"), (134, "SIGABRT (exit code 134)")])
def test_windows_and_shell_crash_codes(code: int, name: str) -> None:
    out = "ENVDOCTOR-STAGE sdpa-fp16-efficient\n" + FATAL_SM + "\n"
    result = classify(get("sdpa-efficient"), 0, _result(code, out))
    assert result.status == m.CRASHED
    assert result.exit == name
    assert result.stage == "sdpa-fp16-efficient"
    assert FATAL_SM in result.error


def test_marker_wins_over_noise_and_bad_marker_lines_are_ignored() -> None:
    payload = {"status": "passed", "details": {"x": 1}, "timings": {"a": 0.1}}
    out = "ENVDOCTOR-SMOKE {not json\nnoise\nENVDOCTOR-SMOKE " + json.dumps(payload) + "\n"
    result = classify(get("cuda"), 1, _result(0, out))
    assert result.status == m.PASSED and result.details == {"x": 1, "timings": {"a": 0.1}}


def test_no_marker_and_a_normal_exit_code_is_a_failure() -> None:
    result = classify(get("cuda"), 0, _result(1, "", "Fatal Python error: init_fs_encoding"))
    assert result.status == m.FAILED and result.exit == "exit code 1"
    assert "init_fs_encoding" in result.error


def test_exit_names() -> None:
    assert exit_name(-signal.SIGABRT) == "SIGABRT"
    assert exit_name(0) is None and exit_name(None) is None
    assert exit_name(2) == "exit code 2"


def test_error_text_is_bounded() -> None:
    result = classify(get("cuda"), 0, _result(-6, "", "x" * 100_000))
    assert len(result.error) < 5000


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_timeout_kills_grandchildren_too(fake_python: Path, tmp_path: Path) -> None:
    # The runner kills the process group: nothing the hung test started survives.
    result = _run(fake_python, "fft-fp16", timeout=2, fail={"rfft-float16": "hang"})
    assert result.status == m.TIMEOUT and result.stage == "rfft-abs-float16"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_interrupted_envdoctor_leaves_no_child_running(tmp_path: Path) -> None:
    import os
    import threading

    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"

    def interrupt() -> None:
        while not pid_file.exists() or not pid_file.read_text():
            threading.Event().wait(0.05)
        signal.pthread_kill(main_thread, signal.SIGINT)

    main_thread = threading.get_ident()
    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        SubprocessRunner().run([sys.executable, "-c", code], timeout=30)
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
