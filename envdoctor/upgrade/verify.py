"""Verification of the staged runtime, before anything is swapped. Every step runs the stage's own
interpreter in a child process (a crash there is a failed step, not a crashed envdoctor).

Steps: pip check; envdoctor's check of the stage (fat-binary scan + live probe + matrix) must say
"native" for every GPU; the imports GPT-SoVITS needs; on real GPUs, smoke tests of the kernels that
failed in the memo (fp16 attention, fft on CUDA via NVRTC) plus doctor's smoke tests when present.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import tempfile
import wave
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from envdoctor.diagnose import coverage
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.engine import diagnose
from envdoctor.doctor import catalog
from envdoctor.doctor.results import TIMEOUT
from envdoctor.doctor.session import run_smoke_tests
from envdoctor.fileio.atomicfile import atomic_write
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import GpuFacts, Severity, no_gpu_line, simulated_gpus_line
from envdoctor.probes.collect import CollectOptions, collect
from envdoctor.probes.runner import Runner, last_marked_json
from envdoctor.upgrade.proc import StageRunner, output_tail
from envdoctor.upgrade.resolve import pip_env

IMPORT_MARKER = "ENVDOCTOR-IMPORTS "

# Distribution name -> module to import, for the heavy packages GPT-SoVITS loads besides torch.
HEAVY_IMPORTS = (
    ("torchvision", "torchvision"), ("numpy", "numpy"), ("scipy", "scipy"), ("onnxruntime", "onnxruntime"),
    ("onnxruntime-gpu", "onnxruntime"), ("transformers", "transformers"), ("librosa", "librosa"),
    ("ctranslate2", "ctranslate2"),  # faster-whisper ASR: loads cuDNN itself (must be torch's major)
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
try:
    if importlib.util.find_spec("ctranslate2") is not None:
        import ctranslate2
        count = ctranslate2.get_cuda_device_count()
        detail = "%s, %d CUDA devices" % (ctranslate2.__version__, count)
        if count:  # loads its CUDA libraries (cuBLAS; cuDNN is loaded with them where it links it)
            detail += ", cuda: " + ",".join(sorted(ctranslate2.get_supported_compute_types("cuda")))
        out["ctranslate2"] = {"ok": True, "detail": detail}
except BaseException as exc:
    out["ctranslate2"] = failed(exc)
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


BROKEN_BEFORE = "broken-before"  # the step's failures are the old runtime's too: reported, not a rejection


@dataclass(frozen=True)
class VerifyStep:
    name: str  # pip-check | check | imports | app | smoke
    status: str  # ok | failed | skipped | broken-before
    detail: str = ""
    fix: str = ""  # message key of what to do, when the failure names its cause
    fix_params: Tuple[Tuple[str, str], ...] = ()
    before: str = ""  # failures the old runtime had as well ("already broken before the upgrade")
    problems: Tuple[Tuple[str, str], ...] = ()  # (what, error) of each failure, to compare with the old runtime


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
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    detail = (result.stdout + result.stderr).strip()[-1200:]
    return VerifyStep("pip-check", "failed", detail, problems=tuple((line, line) for line in lines[:200]))


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
    failed = {name: info for name, info in answer.items() if not info.get("ok")}
    if failed:
        fix, params = _fix_for(failed)
        return VerifyStep("imports", "failed", "; ".join(f"{n}: {i.get('error')}" for n, i in failed.items())[:1200],
                          fix, params, problems=_problems(failed))
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
        fix, params = _fix_for(failed)
        return VerifyStep("app", "failed", detail, fix, params, problems=_problems(failed))
    return VerifyStep("app", "ok", "; ".join(f"{n} {i.get('detail', 'ok')}" for n, i in answer.items())[:600])


def _problems(failed: dict) -> Tuple[Tuple[str, str], ...]:
    """(what, error) per failure; 'what' is the error with its numbers and transaction folders blurred,
    so that a module that failed before for one reason (not installed) and now for another (a CUDA
    library, another symbol) is a new failure, while the same failure in another run still matches."""
    out = []
    for name, info in failed.items():
        error = str(info.get("error", ""))
        out.append((f"{name}: {_blur(error)}", error))
    return tuple(out)


def _blur(error: str) -> str:
    text = re.sub(r"tx-[A-Za-z0-9_.-]+", "tx-#", error)
    return re.sub(r"[0-9]+", "#", text)[:200]


_MISSING_MODULE = re.compile(r"No module named '([A-Za-z0-9_.]+)'")
_LIBRARY = re.compile(r"((?:lib)?[A-Za-z0-9_+-]+(?:\.so(?:\.[0-9]+)*|\.dll))")
_NO_BACKEND = ("no audio backend", "couldn't find appropriate backend", "no audio i/o backend",
               "soundfile", "sox_io", "backend is not available")


def _fix_for(failed: dict) -> Tuple[str, Tuple[Tuple[str, str], ...]]:
    """The real cause of the first failure that names one: TorchCodec or FFmpeg missing, no audio backend,
    a package that is not installed, a CUDA library that does not load; a torchaudio that does not match
    torch only when the error says so (an undefined symbol, a version check)."""
    errors = [(name, str(info.get("error", ""))) for name, info in failed.items()]
    audio = str((failed.get("torchaudio.load") or {}).get("error", ""))
    low = audio.lower()
    if "torchcodec is required" in low or "no module named 'torchcodec'" in low:
        return "upgrade.fix.torchcodec", ()
    if "ffmpeg" in low or "libav" in low or "could not load libtorchcodec" in low:
        return "upgrade.fix.ffmpeg", ()
    if any(word in low for word in _NO_BACKEND):
        return "upgrade.fix.audio_backend", ()
    for _name, error in errors:
        module = _MISSING_MODULE.search(error)
        if module:
            return "upgrade.fix.missing_module", (("module", module.group(1).split(".")[0]),)
    for _name, error in errors:
        if "cannot open shared object" in error or "DLL load failed" in error or "OSError" in error.split(":")[0]:
            library = _LIBRARY.search(error)
            return "upgrade.fix.cuda_library", (("library", library.group(1) if library else "?"),)
    if audio and ("undefined symbol" in low or "version" in low or "mismatch" in low):
        return "upgrade.fix.torchaudio", ()
    if "onnxruntime" in failed:
        return "upgrade.fix.onnxruntime", ()
    if "ctranslate2" in failed:
        return "upgrade.fix.ctranslate2", ()
    return "upgrade.fix.app_module", ()


# -- what the old runtime already failed -----------------------------------------------------------

BASELINE_STEPS = ("pip-check", "imports", "app")


def baseline(python: str, imports: Sequence[str], installed: Sequence[str], app_root: Optional[str],
             runner: Optional[Runner] = None, key: str = "", cache_dir: str = "") -> Dict[str, List[List[str]]]:
    """The same checks on the old runtime (the stage before pip touched it: the original's files, run
    without writing into the original), as {step: [[what, error], ...]} of its failures. Cached by `key`
    (the runtime's stamp): a runtime checked once is not checked again while it is unchanged."""
    modules = _modules(imports, installed)
    name = hashlib.sha256("|".join([key, *modules, app_root or ""]).encode("utf-8")).hexdigest()[:32]
    path = os.path.join(cache_dir, "verify-baseline", name + ".json") if key and cache_dir else ""
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                cached = json.load(handle)
            if isinstance(cached, dict) and all(isinstance(v, list) for v in cached.values()):
                return cached
        except (OSError, ValueError):
            pass
    runner = runner or StageRunner()
    out: Dict[str, List[List[str]]] = {}
    for name, check in (("pip-check", lambda: pip_check(python, runner)),
                        ("imports", lambda: import_modules(python, modules, runner)),
                        ("app", lambda: app_paths(python, runner, app_root))):
        if name == "app" and "torchaudio" not in modules:
            continue
        try:
            step = check()
        except Exception:  # noqa: BLE001 - an old runtime that cannot be checked just has no known failures
            continue
        out[name] = [list(p) for p in step.problems]
    if path:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, json.dumps(out).encode("utf-8"))
        except OSError:
            pass
    return out


def against_baseline(step: VerifyStep, before: Dict[str, List[List[str]]]) -> VerifyStep:
    """A failed step whose every failure the old runtime had too is 'broken-before' (reported, not a
    rejection); otherwise only the new failures are its detail and decide the advice."""
    if step.status != "failed" or step.name not in before or not step.problems:
        return step
    old = {str(what) for what, _error in before[step.name]}
    new = [(what, error) for what, error in step.problems if what not in old]
    kept = [(what, error) for what, error in step.problems if what in old]
    if not kept:
        return step
    before_text = "; ".join(error for _what, error in kept)[:600]
    if not new:
        return replace(step, status=BROKEN_BEFORE, before=before_text, fix="", fix_params=())
    if step.name == "pip-check":
        fix, params = step.fix, step.fix_params
    else:
        fix, params = _fix_for({what.split(": ", 1)[0]: {"error": error} for what, error in new})
    return replace(step, detail="; ".join(error for _what, error in new)[:1200], before=before_text, fix=fix,
                   fix_params=params)


def smoke(python: str, gpus: GpuFacts, runner: Runner) -> VerifyStep:
    """doctor's smoke tests (the memo's two failures among them) in the staged interpreter, on the
    real GPUs, each in its own child process: a candidate that breaks any of them is not swapped in.
    A test that timed out counts as broken here; one that could not run (skipped) does not."""
    if not gpus.gpus:
        return VerifyStep("smoke", "skipped", no_gpu_line())
    if all(g.source == "override" for g in gpus.gpus):
        return VerifyStep("smoke", "skipped", simulated_gpus_line())
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


def _modules(imports: Sequence[str], installed: Sequence[str]) -> List[str]:
    modules: List[str] = list(dict.fromkeys(imports))
    for dist, module in HEAVY_IMPORTS:
        if dist in installed and module not in modules:
            modules.append(module)
    return modules


def verify_stage(python: str, gpus: GpuFacts, imports: Sequence[str], installed: Sequence[str],
                 runner: Optional[Runner] = None, matrix_dir: Optional[str] = None,
                 on_step: Optional[Callable[[VerifyStep], None]] = None, app_root: Optional[str] = None,
                 app_checks: bool = True, before: Optional[Dict[str, List[List[str]]]] = None) -> VerifyResult:
    """Run the steps in order, stopping at the first failure (later steps would only repeat it).
    `before`: the old runtime's failures (`baseline`); what it already failed does not reject the stage."""
    runner = runner or StageRunner()
    modules = _modules(imports, installed)
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
        if before:
            step = against_baseline(step, before)
        steps.append(step)
        if on_step:
            on_step(step)
        if step.status == "failed":
            break
    return VerifyResult(tuple(steps))
