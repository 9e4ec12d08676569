"""Every selected smoke test on every selected GPU, one child process each, in a fixed order.

`cuda` runs first on each GPU; when it shows that CUDA cannot be used there (a CPU build, no
device, a failed init), the torch tests behind it are recorded as skipped with its reason instead of
starting processes that can only say the same. Progress goes to a callback (the CLI draws a bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence

from envdoctor.doctor import model as m
from envdoctor.doctor.catalog import SmokeTest
from envdoctor.doctor.runner import run_one
from envdoctor.model import Facts, Gpu
from envdoctor.paths import host_platform
from envdoctor.probes.runner import Runner, SubprocessRunner


@dataclass(frozen=True)
class Event:
    """kind "plan" (total known), "start" (a test begins) or "done" (result attached)."""

    kind: str
    total: int
    test: str = ""
    gpu_index: Optional[int] = None
    result: Optional[m.SmokeResult] = None


Progress = Callable[[Event], None]

_ONNXRUNTIME_DISTS = ("onnxruntime-gpu", "onnxruntime", "onnxruntime-directml")


def _skipped(test: SmokeTest, gpu: Optional[Gpu], reason: str, detail: str) -> m.SmokeResult:
    return m.SmokeResult(test.name, gpu.index if gpu else None, m.SKIPPED, reason=reason, error=detail)


def _precondition(test: SmokeTest, facts: Facts, extension: Optional[str]) -> Optional[tuple]:
    """(reason, detail) when the test cannot run in this runtime at all, from the facts alone."""
    runtime = facts.runtime
    if runtime is None:
        return ("no-runtime", "no runtime was found")
    if runtime.platform != host_platform():
        return ("foreign-runtime", f"a {runtime.platform} runtime cannot run on {host_platform()}")
    if test.needs == "torch" and facts.torch is None:
        return ("no-torch", "torch is not installed in this runtime")
    if test.needs == "onnxruntime" and not any(facts.distribution(n) for n in _ONNXRUNTIME_DISTS):
        return ("no-onnxruntime", "onnxruntime is not installed in this runtime")
    if test.needs == "extension" and not extension:
        return ("no-extension", "no extension library was given (--extension PATH)")
    return None


def _gate(cuda: m.SmokeResult) -> Optional[tuple]:
    """What the `cuda` result means for the torch tests after it on the same GPU."""
    if cuda.status == m.PASSED:
        return None
    if cuda.status == m.SKIPPED:
        return (cuda.reason or "no-cuda", cuda.error or "")
    return ("cuda-" + cuda.status, f"the cuda test {cuda.status}: {(cuda.error or '').strip()[-300:]}")


def run_smoke_tests(
    facts: Facts,
    tests: Sequence[SmokeTest],
    runner: Optional[Runner] = None,
    timeout: Optional[float] = None,
    progress: Optional[Progress] = None,
    extension: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> List[m.SmokeResult]:
    runner = runner or SubprocessRunner()
    notify = progress or (lambda event: None)
    targets: List[Optional[Gpu]] = list(facts.gpu.gpus) or [None]
    total = len(targets) * len(tests)
    notify(Event("plan", total))
    results: List[m.SmokeResult] = []
    for gpu in targets:
        gate: Optional[tuple] = None
        gpu_index = gpu.index if gpu else None
        for test in tests:
            notify(Event("start", total, test.name, gpu_index))
            blocked = _precondition(test, facts, extension)
            if blocked is None and test.needs == "torch" and test.name != "cuda":
                blocked = gate
            if blocked is not None:
                result = _skipped(test, gpu, *blocked)
            else:
                params = {"library": extension} if test.needs == "extension" else None
                result = run_one(test, facts.runtime, gpu, runner, timeout=timeout, params=params, env=env)
                if test.name == "cuda":
                    gate = _gate(result)
            results.append(result)
            notify(Event("done", total, test.name, gpu_index, result))
    return results

