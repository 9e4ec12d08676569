"""Verification of the staged runtime, before anything is swapped. Every step runs the stage's own
interpreter in a child process (a crash there is a failed step, not a crashed envdoctor).

Steps: pip check; envdoctor's check of the stage (fat-binary scan + live probe + matrix) must say
"native" for every GPU; the imports GPT-SoVITS needs; on real GPUs, smoke tests of the kernels that
failed in the memo (fp16 attention, fft on CUDA via NVRTC) plus doctor's smoke tests when present.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.engine import diagnose
from envdoctor.doctor import catalog
from envdoctor.doctor.model import TIMEOUT
from envdoctor.doctor.session import run_smoke_tests
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import GpuFacts, Severity
from envdoctor.probes.collect import CollectOptions, collect
from envdoctor.probes.runner import Runner, last_marked_json
from envdoctor.upgrade.proc import StageRunner, output_tail
from envdoctor.upgrade.resolve import pip_env

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

APP_MARKER = "ENVDOCTOR-APP "

# GPT-SoVITS' own modules that import torch at load time (imported only: no model is loaded).
APP_MODULES = (
    "GPT_SoVITS.module.models", "GPT_SoVITS.AR.models.t2s_model", "GPT_SoVITS.feature_extractor.cnhubert",
)

# The app's critical paths in the stage's interpreter: torchaudio.load of a real WAV (torchaudio >= 2.9
# reads through TorchCodec and FFmpeg), onnxruntime's providers (G2PW), the app's torch modules.
APP_SCRIPT = r"""
import importlib, json, os, sys
wav, root = sys.argv[1], sys.argv[2]
out = {}
def failed(exc):
    return {"ok": False, "error": "%s: %s" % (type(exc).__name__, str(exc)[:400])}
try:
    import torchaudio
    data, rate = torchaudio.load(wav)
    out["torchaudio.load"] = {"ok": True, "detail": "%s @ %s Hz" % (tuple(getattr(data, "shape", ())), rate)}
except BaseException as exc:
    out["torchaudio.load"] = failed(exc)
try:
    import importlib.util
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime
        out["onnxruntime"] = {"ok": True, "detail": ",".join(onnxruntime.get_available_providers())}
except BaseException as exc:
    out["onnxruntime"] = failed(exc)
if root:
    sys.path[:0] = [root, os.path.join(root, "GPT_SoVITS")]
    os.chdir(root)
for name in sys.argv[3:]:
    try:
        importlib.import_module(name)
        out[name] = {"ok": True}
    except BaseException as exc:
        out[name] = failed(exc)
sys.stdout.write("ENVDOCTOR-APP " + json.dumps(out) + "\n")
"""


@dataclass(frozen=True)
class VerifyStep:
    name: str  # pip-check | check | imports | app | smoke
    status: str  # ok | failed | skipped
    detail: str = ""
    fix: str = ""  # message key of what to install, when the failure names one


@dataclass(frozen=True)
class VerifyResult:
    steps: Tuple[VerifyStep, ...]

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)

    @property
    def failure(self) -> Optional[VerifyStep]:
        return next((s for s in self.steps if s.status == "failed"), None)


def _tail(result: Any) -> str:
    reason = result.signal_name or ("timeout" if result.timed_out else f"exit code {result.returncode}")
    text = output_tail(result, 600)
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
    facts = collect(CollectOptions(python=python, live=True, scan=True, live_timeout=300.0), runner=runner,
                    gpus=gpus)
    live = facts.live
    if live is None or live.status != "ok":
        return VerifyStep("check", "failed", f"import torch: {live.status if live else '-'}: "
                                             f"{(live.error or '') if live else ''}"[:1200])
    ctx = DiagnosisContext(facts, load_matrix(matrix_dir))
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
    # The same full check a launch gets (driver rule included): a stage that `envdoctor check` would
    # call blocking is not swapped in, whatever its kernels.
    blocking = [f for f in diagnose(facts, ctx.matrix) if f.severity == Severity.BLOCKING]
    if blocking:
        return VerifyStep("check", "failed", "; ".join(
            f"{f.code}" + (f" ({', '.join(f'{k}={v}' for k, v in sorted(f.params.items()))})" if f.params else "")
            for f in blocking)[:1200])
    torch = facts.torch
    return VerifyStep("check", "ok", f"torch {torch.version if torch else '?'}; " + "; ".join(good))


def import_modules(python: str, modules: Sequence[str], runner: Runner) -> VerifyStep:
    result = runner.run([python, "-c", IMPORT_SCRIPT, *modules], timeout=600, env=pip_env())
    answer = last_marked_json(result.stdout, IMPORT_MARKER)
    if answer is None:
        return VerifyStep("imports", "failed", _tail(result))
    failed = [f"{name}: {info.get('error')}" for name, info in answer.items() if not info.get("ok")]
    if failed:
        return VerifyStep("imports", "failed", "; ".join(failed)[:1200])
    return VerifyStep("imports", "ok", ", ".join(f"{n} {i.get('version', '')}".strip() for n, i in answer.items()))


def write_test_wav(path: str, seconds: float = 0.25, rate: int = 16000) -> str:
    """A small real 16-bit mono WAV (a 440 Hz tone): what torchaudio.load must read in the stage."""
    frames = int(seconds * rate)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                                    for i in range(frames)))
    return path


def app_paths(python: str, runner: Runner, app_root: Optional[str]) -> VerifyStep:
    modules = [m for m in APP_MODULES if app_root and os.path.isfile(
        os.path.join(app_root, *m.split(".")) + ".py")]
    with tempfile.TemporaryDirectory(prefix="envdoctor-verify-") as tmp:
        wav = write_test_wav(os.path.join(tmp, "tone.wav"))
        result = runner.run([python, "-c", APP_SCRIPT, wav, app_root or "", *modules], timeout=600, env=pip_env())
    answer = last_marked_json(result.stdout, APP_MARKER)
    if answer is None:
        return VerifyStep("app", "failed", _tail(result))
    failed = {name: info for name, info in answer.items() if not info.get("ok")}
    if failed:
        detail = "; ".join(f"{name}: {info.get('error')}" for name, info in failed.items())[:1200]
        return VerifyStep("app", "failed", detail, _fix_for(failed))
    return VerifyStep("app", "ok", "; ".join(f"{n} {i.get('detail', 'ok')}" for n, i in answer.items())[:600])


def _fix_for(failed: dict) -> str:
    audio = str((failed.get("torchaudio.load") or {}).get("error", "")).lower()
    if "torchcodec" in audio:
        return "upgrade.fix.torchcodec"
    if "ffmpeg" in audio or "libav" in audio:
        return "upgrade.fix.ffmpeg"
    if audio:
        return "upgrade.fix.torchaudio"
    if "onnxruntime" in failed:
        return "upgrade.fix.onnxruntime"
    return "upgrade.fix.app_module"


def smoke(python: str, gpus: GpuFacts, runner: Runner) -> VerifyStep:
    """doctor's smoke tests (the memo's two failures among them) in the staged interpreter, on the
    real GPUs, each in its own child process: a candidate that breaks any of them is not swapped in.
    A test that timed out counts as broken here; one that could not run (skipped) does not."""
    if not gpus.gpus:
        return VerifyStep("smoke", "skipped", "no GPU")
    if all(g.source == "override" for g in gpus.gpus):
        return VerifyStep("smoke", "skipped", "simulated GPUs (ENVDOCTOR_GPUS) cannot run kernels")
    # The smoke tests need the stage's facts (which torch, which packages) to know what they can run.
    facts = collect(CollectOptions(python=python, live=False, scan=False), runner=runner, gpus=gpus)
    results = run_smoke_tests(facts, catalog.select(), runner=runner, env=pip_env())
    broken = [r for r in results if r.broke or r.status == TIMEOUT]
    if broken:
        detail = "; ".join(f"gpu{r.gpu_index}.{r.test}: {r.status} {(r.error or '').strip()[-200:]}" for r in broken)
        return VerifyStep("smoke", "failed", detail[:1200])
    passed = sorted({r.test for r in results if r.status == "passed"})
    if "cuda" not in passed:
        return VerifyStep("smoke", "failed", "torch.cuda is not usable in the stage")
    return VerifyStep("smoke", "ok", ", ".join(passed))


def verify_stage(python: str, gpus: GpuFacts, imports: Sequence[str], installed: Sequence[str],
                 runner: Optional[Runner] = None, matrix_dir: Optional[str] = None,
                 on_step: Optional[Callable[[VerifyStep], None]] = None, app_root: Optional[str] = None,
                 app_checks: bool = True) -> VerifyResult:
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
    ]
    if app_checks and "torchaudio" in modules:
        checks.append(lambda: app_paths(python, runner, app_root))
    checks.append(lambda: smoke(python, gpus, runner))
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
