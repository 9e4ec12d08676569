"""The live probe: ask the runtime's own interpreter what torch says, in a child process.

`import torch` takes seconds and can crash or hang on a broken install, so it never happens in
envdoctor's process. The answer is cached keyed by the runtime's torch files and the GPUs present,
so a launcher's pre-launch check pays for it once per runtime change.
"""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence

from envdoctor.fileio.jsoncache import JsonCache, file_stamp
from envdoctor.fileio.paths import host_platform
from envdoctor.model import (
    Gpu,
    LiveDevice,
    LiveProbe,
    Runtime,
    foreign_runtime_line,
    live_background_line,
    no_answer_line,
    no_torch_line,
    parse_cc,
)
from envdoctor.probes.inputs import declared_environment
from envdoctor.probes.runner import Runner, SubprocessRunner, last_marked_json

PROBE_SCRIPT = r"""
import json, sys
out = {"stage": "import"}
try:
    import torch
    out["torch_version"] = str(torch.__version__)
    out["cuda_version"] = getattr(torch.version, "cuda", None)
    out["stage"] = "cuda"
    available = bool(torch.cuda.is_available())
    out["cuda_available"] = available
    arch = list(torch.cuda.get_arch_list())
    if not arch:
        # get_arch_list() answers [] when no GPU is usable; the build's list is still there.
        flags = getattr(getattr(torch, "_C", None), "_cuda_getArchFlags", None)
        arch = (flags() or "").split() if flags else []
    out["arch_list"] = arch
    devices = []
    if available:
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            devices.append({"index": i, "name": torch.cuda.get_device_name(i), "cc": "%d.%d" % (major, minor)})
    out["devices"] = devices
    out["stage"] = "done"
except BaseException as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
sys.stdout.write("ENVDOCTOR-LIVE " + json.dumps(out) + "\n")
"""

MARKER = "ENVDOCTOR-LIVE "
DEFAULT_TIMEOUT_S = 90.0


def cache_key(runtime: Runtime, torch_dir: Optional[str], gpus: Sequence[Gpu]) -> str:
    """Changes whenever the torch files, the interpreter, the GPU set or the environment the child
    gets (CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH, PATH...) change."""
    parts = [runtime.python, file_stamp(runtime.python)]
    parts.extend(f"{k}={v}" for k, v in declared_environment(os.environ, "live").items())
    if torch_dir:
        for name in ("version.py", "__init__.py", "lib"):
            parts.append(file_stamp(os.path.join(torch_dir, name)))
    parts.extend(f"{g.index}:{g.name}:{g.uuid}:{g.cc_text}" for g in gpus)
    return "|".join(parts)


def parse_probe_output(stdout: str) -> Optional[dict]:
    return last_marked_json(stdout, MARKER)


def _optional_text(value: object) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected text, got {type(value).__name__}")


def _checked(answer: object) -> dict:
    """The probe's answer with every field of the type envdoctor uses, else TypeError. The answer
    comes from a process anything may have replaced (a `sitecustomize`, a wrapper script)."""
    if not isinstance(answer, dict):
        raise TypeError("the answer is not a JSON object")
    devices = answer.get("devices") or []
    arch = answer.get("arch_list") or []
    if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
        raise TypeError("devices is not a list of objects")
    if not isinstance(arch, list) or not all(isinstance(a, str) for a in arch):
        raise TypeError("arch_list is not a list of names")
    available = answer.get("cuda_available")
    if available is not None and not isinstance(available, bool):
        raise TypeError("cuda_available is not true/false")
    for name in ("torch_version", "cuda_version", "error"):
        _optional_text(answer.get(name))
    for item in devices:
        index = item.get("index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 4096:
            raise TypeError("a device index is not a small whole number")
        _optional_text(item.get("name"))
        _optional_text(item.get("cc"))
    return answer


def _from_answer(answer: dict, duration: float, cached: bool) -> LiveProbe:
    try:
        answer = _checked(answer)
    except TypeError as exc:
        return LiveProbe(status="failed", error=f"the runtime's Python answered in an unexpected form ({exc})",
                         duration_s=duration, cached=cached)
    devices: List[LiveDevice] = []
    for item in answer.get("devices") or []:
        try:
            cc = parse_cc(str(item.get("cc")))
        except ValueError:
            cc = None
        devices.append(LiveDevice(int(item.get("index", len(devices))), str(item.get("name", "?")), cc))
    error = answer.get("error")
    return LiveProbe(
        status="failed" if error else "ok",
        torch_version=answer.get("torch_version"),
        cuda_version=answer.get("cuda_version"),
        cuda_available=answer.get("cuda_available"),
        arch_list=tuple(str(a) for a in answer.get("arch_list") or ()),
        devices=tuple(devices),
        error=error,
        duration_s=duration,
        cached=cached,
    )


# The live probe's reason when a launcher's check did not wait for it.
BACKGROUND = live_background_line()


def run_live_probe(
    runtime: Runtime,
    torch_dir: Optional[str],
    gpus: Sequence[Gpu],
    runner: Optional[Runner] = None,
    cache: Optional[JsonCache] = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    wait: bool = True,
    on_start: Optional[Callable[[], None]] = None,
) -> LiveProbe:
    """The live facts: the cached answer for these torch files and GPUs, else the runtime's own
    interpreter asked now; WAIT False: never ask now (the caller refreshes in the background)."""
    if torch_dir is None:
        return LiveProbe(status="skipped", error=no_torch_line())
    if runtime.platform != host_platform():
        return LiveProbe(status="skipped", error=foreign_runtime_line(runtime.platform, host_platform()))
    key = cache_key(runtime, torch_dir, gpus)
    if cache is not None:
        hit = cache.get(key)
        if isinstance(hit, dict) and isinstance(hit.get("answer"), dict):
            try:
                duration = float(hit.get("duration_s", 0.0))
            except (TypeError, ValueError):
                duration = 0.0
            return _from_answer(hit["answer"], duration, cached=True)
    if not wait:
        return LiveProbe(status="skipped", error=BACKGROUND)
    if on_start is not None:
        on_start()
    env = dict(os.environ)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    result = (runner or SubprocessRunner()).run([runtime.python, "-I", "-c", PROBE_SCRIPT], timeout=timeout, env=env)
    if result.timed_out:
        return LiveProbe(status="timeout", error=no_answer_line(timeout), duration_s=result.duration_s)
    if result.start_error:
        return LiveProbe(status="failed", error=result.start_error, duration_s=result.duration_s)
    answer = parse_probe_output(result.stdout)
    if answer is None:
        tail = (result.stderr or result.stdout).strip()[-800:]
        status = "crashed" if result.crashed else "failed"
        reason = result.signal_name or f"exit code {result.returncode}"
        return LiveProbe(status=status, error=f"{reason}: {tail}" if tail else reason, duration_s=result.duration_s)
    probe = _from_answer(answer, result.duration_s, cached=False)
    if cache is not None and probe.status == "ok":
        cache.put(key, {"answer": answer, "duration_s": result.duration_s})
    return probe
