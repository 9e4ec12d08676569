"""Run a smoke test in a worker of the runtime's own Python and classify how it ended.

The worker (worker.py, scripts/_harness.py) sees only the GPU under test (CUDA_VISIBLE_DEVICES, in
NVML's PCI order) and answers each test on its protocol. Anything else a test does (abort, segfault,
hang, a Windows fail-fast exit code) is classified here from the exit status, the last stage and the
captured output, so an abort never reaches envdoctor's own process.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import SmokeTest, script_source
from envdoctor.doctor.worker import Outcome, Worker, spawn_hooks
from envdoctor.model import Gpu, Runtime
from envdoctor.probes.runner import Runner, RunResult

MARKER = "ENVDOCTOR-SMOKE "
STAGE = "ENVDOCTOR-STAGE "
ERROR_TAIL_CHARS = 3000

# Exit codes of a process that died the Windows way (NTSTATUS) or through abort() there.
_WINDOWS_EXITS = {
    3: "abort() (exit code 3)",
    0xC0000005: "0xC0000005 (access violation)",
    0xC000001D: "0xC000001D (illegal instruction)",
    0xC00000FD: "0xC00000FD (stack overflow)",
    0xC0000409: "0xC0000409 (fail-fast / abort)",
    0xC0000374: "0xC0000374 (heap corruption)",
}


def child_env(gpu: Optional[Gpu], base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PYTHONIOENCODING"] = "utf-8"
    if gpu is not None:
        # NVML numbers GPUs in PCI bus order, CUDA by default fastest first: make them agree, and let
        # the child see only the GPU under test (by UUID when known: immune to any renumbering).
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        env["CUDA_VISIBLE_DEVICES"] = gpu.uuid if gpu.uuid else str(gpu.index)
    return env


def exit_name(returncode: Optional[int]) -> Optional[str]:
    if returncode is None or returncode == 0:
        return None
    result = RunResult((), returncode, "", "", 0.0)
    if result.signal_name:
        return result.signal_name
    if returncode in _WINDOWS_EXITS:
        return _WINDOWS_EXITS[returncode]
    if returncode in (134, 139):  # a shell reporting SIGABRT / SIGSEGV as 128 + signal
        return {134: "SIGABRT (exit code 134)", 139: "SIGSEGV (exit code 139)"}[returncode]
    if returncode >= 0xC0000000:
        return f"0x{returncode:08X}"
    return f"exit code {returncode}"


def parse_output(stdout: str) -> Tuple[Optional[dict], Optional[str], List[str]]:
    """(the marker's payload, the last stage announced, the other stdout lines)."""
    payload: Optional[dict] = None
    stage: Optional[str] = None
    other: List[str] = []
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            try:
                value = json.loads(line[len(MARKER):])
            except ValueError:
                other.append(line)
                continue
            if isinstance(value, dict):
                payload = value
        elif line.startswith(STAGE):
            stage = line[len(STAGE):].strip() or stage
        else:
            other.append(line)
    return payload, stage, other


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= ERROR_TAIL_CHARS else "…" + text[-ERROR_TAIL_CHARS:]


def classify(test: SmokeTest, gpu_index: Optional[int], result: RunResult) -> m.SmokeResult:
    """RunResult of a one-shot child that printed marker lines -> SmokeResult (kept for such children)."""
    payload, stage, other = parse_output(result.stdout)
    # Device printf (the CUTLASS "FATAL: ..." line) goes to stdout, the rest to stderr: keep both.
    output = "\n".join(other + ([result.stderr] if result.stderr else []))
    start_error = None
    if result.start_error:
        start_error = f"could not start {result.argv[0] if result.argv else '?'}: {result.start_error}"
    return judge(test, gpu_index, payload=payload, stage=stage, output=output, returncode=result.returncode,
                 timed_out=result.timed_out, start_error=start_error, duration_s=result.duration_s)


def judge(test: SmokeTest, gpu_index: Optional[int], payload: Optional[dict], stage: Optional[str], output: str,
          returncode: Optional[int], timed_out: bool = False, start_error: Optional[str] = None,
          duration_s: float = 0.0) -> m.SmokeResult:
    """How a test ended -> SmokeResult. Pure: tests feed it real and hand-made endings.

    payload: the script's own answer (None when it never gave one); stage: the last stage announced;
    output: what it printed; returncode: how the process ended, when it ended during this test.
    """
    noise = _tail(output)
    base: Dict[str, Any] = {"test": test.name, "gpu_index": gpu_index, "duration_s": round(duration_s, 3),
                            "stage": stage}
    ended = RunResult((), returncode, "", "", 0.0)
    if start_error:
        return m.SmokeResult(status=m.FAILED, error=start_error, **base)
    if timed_out:
        return m.SmokeResult(status=m.TIMEOUT, error=noise or None, exit="killed after timeout", **base)
    if payload is not None and payload.get("status") in (m.PASSED, m.FAILED, m.SKIPPED):
        details = dict(payload.get("details") or {})
        if payload.get("timings"):
            details["timings"] = payload["timings"]
        status = payload["status"]
        error = payload.get("error") or None
        if status == m.FAILED:
            extra = payload.get("traceback") or ""
            error = "\n".join(p for p in (error, _tail(extra), noise) if p)
        base["stage"] = payload.get("stage") or stage
        return m.SmokeResult(status=status, reason=payload.get("reason"), error=error,
                             exit=exit_name(returncode) if ended.crashed else None, details=details, **base)
    how = exit_name(returncode)
    if ended.crashed:
        return m.SmokeResult(status=m.CRASHED, error=noise or None, exit=how, **base)
    # Ended without an answer and without a crash signature: an error outside the script's reach
    # (a broken interpreter, sys.exit in an import hook, os._exit in a test).
    return m.SmokeResult(status=m.FAILED, error=noise or f"no answer ({how or 'exit code 0'})", exit=how, **base)


def test_params(test: SmokeTest, gpu: Optional[Gpu], params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    merged: Dict[str, Any] = dict(test.params)
    merged["device"] = 0  # the child sees only the selected GPU
    merged["expect_gpu"] = gpu is not None
    merged.update(params or {})
    return merged


def run_in(worker: Worker, test: SmokeTest, gpu: Optional[Gpu], timeout: Optional[float] = None,
           params: Optional[Mapping[str, Any]] = None) -> Tuple[m.SmokeResult, Outcome]:
    """One test in a worker (started on first use) -> (its result, how the worker fared)."""
    outcome = worker.run(test.name, script_source(test), test_params(test, gpu, params), timeout or test.timeout_s)
    start_error = f"could not start {worker.python}: {outcome.start_error}" if outcome.start_error else None
    result = judge(test, gpu.index if gpu else None, payload=outcome.payload, stage=outcome.stage,
                   output=outcome.output, returncode=outcome.returncode, timed_out=outcome.timed_out,
                   start_error=start_error, duration_s=outcome.duration_s)
    return result, outcome


def run_one(test: SmokeTest, runtime: Runtime, gpu: Optional[Gpu], runner: Optional[Runner] = None,
            timeout: Optional[float] = None, params: Optional[Mapping[str, Any]] = None,
            env: Optional[Mapping[str, str]] = None) -> m.SmokeResult:
    """One test in a worker of its own (the runner only lends its child registration hooks)."""
    on_spawn, on_exit = spawn_hooks(runner)
    worker = Worker(runtime.python, child_env(gpu, env), on_spawn=on_spawn, on_exit=on_exit)
    try:
        return run_in(worker, test, gpu, timeout, params)[0]
    finally:
        worker.close()
