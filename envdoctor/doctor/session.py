"""Every selected smoke test on every selected GPU: one worker process per GPU, the GPUs in parallel.

A GPU's tests run in order in one worker (worker.py), so the runtime's Python starts and imports
torch once, not once per test. Isolation stays: a test that crashes, hangs or fails ends its worker
(a failed CUDA call can leave a sticky error that poisons the context), and the next test gets a
fresh one. A worker that dies before it even started a test (it was fine after the last one) gets
that test again in a fresh worker: the death was not the test's doing.

`cuda` runs first on each GPU; when it shows that CUDA cannot be used there (a CPU build, no
device, a failed init), the torch tests behind it are recorded as skipped with its reason instead of
running what can only say the same. Progress goes to a callback (the CLI draws it), from the thread
of each GPU, one call at a time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import SmokeTest
from envdoctor.doctor.runner import child_env, run_in
from envdoctor.doctor.worker import Worker, spawn_hooks
from envdoctor.fileio.paths import host_platform
from envdoctor.model import Facts, Gpu, foreign_runtime_line, no_torch_line
from envdoctor.probes.runner import Runner

# envdoctor's own tests of the hardware edge: the runtime (tests/doctor/fake_runtime.py) simulates the
# same GPU that ENVDOCTOR_GPUS describes, so its smoke tests may run on it.
SMOKE_ON_SIMULATED = "ENVDOCTOR_SMOKE_ON_SIMULATED_GPU"


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
# Statuses after which the worker carries on with the next test; anything else ends it.
_WORKER_STAYS = (m.PASSED, m.SKIPPED)


def _skipped(test: SmokeTest, gpu: Optional[Gpu], reason: str, detail: str) -> m.SmokeResult:
    return m.SmokeResult(test.name, gpu.index if gpu else None, m.SKIPPED, reason=reason, error=detail)


def _precondition(test: SmokeTest, facts: Facts, extension: Optional[str]) -> Optional[tuple]:
    """(reason, detail) when the test cannot run in this runtime at all, from the facts alone."""
    runtime = facts.runtime
    if runtime is None:
        return ("no-runtime", "no runtime was found")
    if runtime.platform != host_platform():
        return ("foreign-runtime", foreign_runtime_line(runtime.platform, host_platform()))
    if facts.gpu_origin != "host" and facts.gpu.gpus and not os.environ.get(SMOKE_ON_SIMULATED):
        # The GPUs are someone else's or a what-if (ENVDOCTOR_GPUS, --assume-gpu, --facts-from, a demo):
        # a test run here would run on this machine and be reported as that GPU's result.
        return ("simulated-gpu", f"the GPU is not this machine's ({facts.gpu_origin})")
    if test.needs == "torch" and facts.torch is None:
        return ("no-torch", no_torch_line())
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


class _Workers:
    """Every live worker of a session, so that an interrupted session ends them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: Set[Worker] = set()
        self.cancelled = False

    def add(self, worker: Worker) -> None:
        with self._lock:
            self._live.add(worker)

    def discard(self, worker: Worker) -> None:
        with self._lock:
            self._live.discard(worker)

    def kill_all(self) -> None:
        self.cancelled = True
        with self._lock:
            live = list(self._live)
        for worker in live:
            worker.kill()


@dataclass
class _GpuRun:
    """The selected tests on one GPU, in one worker at a time."""

    facts: Facts
    tests: Sequence[SmokeTest]
    gpu: Optional[Gpu]
    notify: Callable[[Event], None]
    total: int
    workers: _Workers
    runner: Optional[Runner]
    timeout: Optional[float]
    extension: Optional[str]
    env: Optional[Mapping[str, str]]
    reuse: bool = True

    def _new_worker(self) -> Worker:
        assert self.facts.runtime is not None
        on_spawn, on_exit = spawn_hooks(self.runner)
        worker = Worker(self.facts.runtime.python, child_env(self.gpu, self.env), on_spawn=on_spawn, on_exit=on_exit)
        self.workers.add(worker)
        return worker

    def _drop(self, worker: Optional[Worker], kill: bool) -> None:
        if worker is None:
            return
        if kill:
            worker.kill()
        else:
            worker.close()
        self.workers.discard(worker)

    def run(self) -> List[m.SmokeResult]:
        results: List[m.SmokeResult] = []
        gate: Optional[tuple] = None
        gpu_index = self.gpu.index if self.gpu else None
        worker: Optional[Worker] = None
        try:
            for test in self.tests:
                if self.workers.cancelled:
                    break
                self.notify(Event("start", self.total, test.name, gpu_index))
                blocked = _precondition(test, self.facts, self.extension)
                if blocked is None and test.needs == "torch" and test.name != "cuda":
                    blocked = gate
                if blocked is not None:
                    result = _skipped(test, self.gpu, *blocked)
                else:
                    params = {"library": self.extension} if test.needs == "extension" else None
                    worker = worker or self._new_worker()
                    result, outcome = run_in(worker, test, self.gpu, timeout=self.timeout, params=params)
                    if not outcome.started and not outcome.timed_out and worker.jobs_done > 0:
                        # It died between tests, before this one began: not this test's doing.
                        self._drop(worker, kill=True)
                        worker = self._new_worker()
                        result, outcome = run_in(worker, test, self.gpu, timeout=self.timeout, params=params)
                    if result.status not in _WORKER_STAYS or not worker.alive or not self.reuse:
                        self._drop(worker, kill=result.status not in _WORKER_STAYS)
                        worker = None
                    if test.name == "cuda":
                        gate = _gate(result)
                results.append(result)
                self.notify(Event("done", self.total, test.name, gpu_index, result))
        except BaseException:
            self._drop(worker, kill=True)  # interrupted mid-test: no waiting for a polite exit
            raise
        self._drop(worker, kill=self.workers.cancelled)
        return results


def run_smoke_tests(
    facts: Facts,
    tests: Sequence[SmokeTest],
    runner: Optional[Runner] = None,
    timeout: Optional[float] = None,
    progress: Optional[Progress] = None,
    extension: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    reuse: bool = True,
) -> List[m.SmokeResult]:
    """Results in a fixed order: GPU by GPU, each in catalogue order (whatever order they finished in).

    runner: only its child registration hooks are used (on_spawn/on_exit, see upgrade.proc);
    reuse=False starts a worker per test, as doctor did before workers (bench/doctor_speed.py compares).
    """
    lock = threading.Lock()
    sink = progress or (lambda event: None)

    def notify(event: Event) -> None:
        with lock:
            sink(event)

    targets: List[Optional[Gpu]] = list(facts.gpu.gpus) or [None]
    total = len(targets) * len(tests)
    notify(Event("plan", total))
    workers = _Workers()
    runs = [_GpuRun(facts, tests, gpu, notify, total, workers, runner, timeout, extension, env, reuse)
            for gpu in targets]
    if len(runs) == 1:
        return runs[0].run()
    done: Dict[int, List[m.SmokeResult]] = {}
    errors: List[BaseException] = []

    def one(position: int, run: _GpuRun) -> None:
        try:
            done[position] = run.run()
        except BaseException as exc:  # re-raised in the calling thread below
            errors.append(exc)
            workers.kill_all()

    threads = [threading.Thread(target=one, args=(i, run), name=f"envdoctor-smoke-gpu{i}", daemon=True)
               for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:
        # Ctrl-C reaches only this thread (the workers have their own sessions): end them all.
        workers.kill_all()
        raise
    if errors:
        raise errors[0]
    return [result for position in range(len(runs)) for result in done.get(position, [])]
