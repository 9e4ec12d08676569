"""Verification of the staged runtime, before anything is swapped. Every step runs the stage's own
interpreter in a child process (a crash there is a failed step, not a crashed envdoctor).

Steps: pip check; envdoctor's check of the stage (fat-binary scan + live probe + matrix) must say
"native" for every GPU; the imports GPT-SoVITS needs; on real GPUs, smoke tests of the kernels that
failed in the memo (fp16 attention, fft on CUDA via NVRTC) plus doctor's smoke tests when present.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from envdoctor.model import GpuFacts
from envdoctor.probes.runner import Runner
from envdoctor.upgrade.proc import StageRunner
from envdoctor.upgrade.resolve import pip_env

SMOKE_MARKER = "ENVDOCTOR-SMOKE "
IMPORT_MARKER = "ENVDOCTOR-IMPORTS "

# Distribution name -> module to import, for the heavy packages GPT-SoVITS loads besides torch.
HEAVY_IMPORTS = (
    ("torchvision", "torchvision"), ("numpy", "numpy"), ("scipy", "scipy"), ("onnxruntime", "onnxruntime"),
    ("onnxruntime-gpu", "onnxruntime"), ("transformers", "transformers"), ("librosa", "librosa"),
)

IMPORT_SCRIPT = r"""
import importlib, json, sys, traceback
out = {}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
        out[name] = {"ok": True, "version": str(getattr(module, "__version__", ""))}
    except BaseException as exc:
        out[name] = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
sys.stdout.write("ENVDOCTOR-IMPORTS " + json.dumps(out) + "\n")
"""

SMOKE_SCRIPT = r"""
import json, sys
out = {}
import torch
if not torch.cuda.is_available():
    out["cuda"] = "torch.cuda.is_available() is False"
else:
    out["cuda"] = "ok"
    for i in range(torch.cuda.device_count()):
        dev = torch.device("cuda", i)
        def matmul():
            a = torch.randn(256, 256, device=dev, dtype=torch.float16)
            (a @ a).float().sum().item()
        def sdpa_fp16():
            # the memo's failure 1: fused attention without native kernels aborts the process
            q = torch.randn(1, 4, 128, 64, device=dev, dtype=torch.float16)
            torch.nn.functional.scaled_dot_product_attention(q, q, q).float().sum().item()
        def rfft_abs():
            # the memo's failure 2: jiterator/NVRTC compile for the GPU's arch (kaldi fbank)
            x = torch.randn(8, 400, device=dev)
            torch.fft.rfft(x).abs().sum().item()
        for name, fn in (("matmul_fp16", matmul), ("sdpa_fp16", sdpa_fp16), ("rfft_abs", rfft_abs)):
            try:
                fn()
                torch.cuda.synchronize(dev)
                out["gpu%d.%s" % (i, name)] = "ok"
            except BaseException as exc:
                out["gpu%d.%s" % (i, name)] = "%s: %s" % (type(exc).__name__, str(exc)[:300])
sys.stdout.write("ENVDOCTOR-SMOKE " + json.dumps(out) + "\n")
"""


@dataclass(frozen=True)
class VerifyStep:
    name: str  # pip-check | check | imports | smoke | doctor
    status: str  # ok | failed | skipped
    detail: str = ""


@dataclass(frozen=True)
class VerifyResult:
    steps: Tuple[VerifyStep, ...]

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)

    @property
    def failure(self) -> Optional[VerifyStep]:
        return next((s for s in self.steps if s.status == "failed"), None)


def _marked(stdout: str, marker: str) -> Optional[dict]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(marker):
            try:
                value = json.loads(line[len(marker):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _tail(result: Any) -> str:
    reason = result.signal_name or ("timeout" if result.timed_out else f"exit code {result.returncode}")
    text = (result.stderr or result.stdout or result.start_error or "").strip()[-600:]
    return f"{reason}: {text}" if text else reason


def pip_check(python: str, runner: Runner) -> VerifyStep:
    result = runner.run([python, "-m", "pip", "check"], timeout=300, env=pip_env())
    if result.returncode == 0:
        return VerifyStep("pip-check", "ok", result.stdout.strip()[-300:])
    return VerifyStep("pip-check", "failed", (result.stdout + result.stderr).strip()[-1200:])


def check_stage(python: str, gpus: GpuFacts, runner: Runner, matrix_dir: Optional[str] = None) -> VerifyStep:
    """envdoctor's own check of the stage. Every GPU must be native by what is in the binaries (the
    fat-binary scan) and by what torch itself reports (live probe), wherever each is available; the
    matrix alone cannot pass a build that the files or torch contradict."""
    from envdoctor.diagnose import coverage
    from envdoctor.diagnose.context import DiagnosisContext
    from envdoctor.jsoncache import JsonCache
    from envdoctor.matrix.loader import load_matrix
    from envdoctor.paths import cache_dir
    from envdoctor.pipeline import judge
    from envdoctor.probes.collect import CollectOptions, collect

    facts = collect(CollectOptions(python=python, live=True, scan=True, live_timeout=300.0), runner=runner,
                    gpus=gpus)
    report = judge(facts, matrix_dir)
    live = facts.live
    if live is None or live.status != "ok":
        return VerifyStep("check", "failed", f"import torch: {live.status if live else '-'}: "
                                             f"{(live.error or '') if live else ''}"[:1200])
    ctx = DiagnosisContext(facts, load_matrix(matrix_dir, cache=JsonCache(cache_dir(), "matrix")))
    problems, good = [], []
    for gpu in facts.gpu.gpus:
        cc = ctx.capability(gpu)
        views = ctx.coverage_views(cc) if cc else []
        strong = [v for v in views if v.source in ("scan", "live")] or views
        bad = [v for v in strong if v.verdict != coverage.NATIVE]
        if not strong or bad:
            detail = ", ".join(f"{v.source}={v.verdict}" for v in views) or "unknown"
            problems.append(f"GPU {gpu.index} {gpu.name}: {detail}")
        else:
            good.append(f"GPU {gpu.index}: native ({', '.join(v.source for v in strong)})")
    if problems:
        return VerifyStep("check", "failed", "; ".join(problems))
    torch = report.facts.torch
    return VerifyStep("check", "ok", f"torch {torch.version if torch else '?'}; " + "; ".join(good))


def import_modules(python: str, modules: Sequence[str], runner: Runner) -> VerifyStep:
    result = runner.run([python, "-c", IMPORT_SCRIPT, *modules], timeout=600, env=pip_env())
    answer = _marked(result.stdout, IMPORT_MARKER)
    if answer is None:
        return VerifyStep("imports", "failed", _tail(result))
    failed = [f"{name}: {info.get('error')}" for name, info in answer.items() if not info.get("ok")]
    if failed:
        return VerifyStep("imports", "failed", "; ".join(failed)[:1200])
    return VerifyStep("imports", "ok", ", ".join(f"{n} {i.get('version', '')}".strip() for n, i in answer.items()))


def smoke(python: str, gpus: GpuFacts, runner: Runner) -> VerifyStep:
    if not gpus.gpus:
        return VerifyStep("smoke", "skipped", "no GPU")
    if all(g.source == "override" for g in gpus.gpus):
        return VerifyStep("smoke", "skipped", "simulated GPUs (ENVDOCTOR_GPUS) cannot run kernels")
    result = runner.run([python, "-c", SMOKE_SCRIPT], timeout=600, env=pip_env())
    answer = _marked(result.stdout, SMOKE_MARKER)
    if answer is None:
        return VerifyStep("smoke", "failed", _tail(result))
    failed = [f"{k}: {v}" for k, v in answer.items() if v != "ok"]
    if failed:
        return VerifyStep("smoke", "failed", "; ".join(failed)[:1200])
    return VerifyStep("smoke", "ok", ", ".join(sorted(answer)))


def doctor_smoke(python: str, gpus: GpuFacts) -> VerifyStep:
    """doctor's smoke tests, when that package is installed: envdoctor.doctor.smoke.run_smoke(python, gpus)
    returning an object with `.ok` (and optionally `.detail`). Absent or different API: skipped."""
    try:
        module = importlib.import_module("envdoctor.doctor.smoke")
        func: Callable[..., Any] = module.run_smoke
    except (ImportError, AttributeError):
        return VerifyStep("doctor", "skipped", "envdoctor.doctor not available")
    result = func(python, gpus)
    ok = bool(getattr(result, "ok", result))
    return VerifyStep("doctor", "ok" if ok else "failed", str(getattr(result, "detail", ""))[:1200])


def verify_stage(python: str, gpus: GpuFacts, imports: Sequence[str], installed: Sequence[str],
                 runner: Optional[Runner] = None, matrix_dir: Optional[str] = None,
                 on_step: Optional[Callable[[VerifyStep], None]] = None) -> VerifyResult:
    """Run the steps in order, stopping at the first failure (later steps would only repeat it)."""
    runner = runner or StageRunner()
    modules: List[str] = list(dict.fromkeys(imports))
    for dist, module in HEAVY_IMPORTS:
        if dist in installed and module not in modules:
            modules.append(module)
    steps: List[VerifyStep] = []
    checks: List[Callable[[], VerifyStep]] = [
        lambda: pip_check(python, runner),
        lambda: check_stage(python, gpus, runner, matrix_dir),
        lambda: import_modules(python, modules, runner),
        lambda: smoke(python, gpus, runner),
        lambda: doctor_smoke(python, gpus),
    ]
    for check in checks:
        try:
            step = check()
        except Exception as exc:  # a verification that cannot run has not passed
            step = VerifyStep("error", "failed", f"{type(exc).__name__}: {exc}")
        steps.append(step)
        if on_step:
            on_step(step)
        if step.status == "failed":
            break
    return VerifyResult(tuple(steps))
