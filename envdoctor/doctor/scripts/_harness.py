# The smoke-test worker, run by the *target runtime's* Python (3.8+, any torch) as
#   python -I -c <this file> <prefix>
# It reads jobs from stdin, one JSON line each: {"seq", "name", "source", "params"}, runs each job's
# script (its `main(smoke)`) in a fresh namespace of this same process, so that `import torch` is paid
# once per process, and answers on its own stdout with protocol lines "<prefix> {json}":
#   {"event": "ready"}                        the worker is up
#   {"event": "start", "seq"}                 a job began
#   {"event": "stage", "seq", "stage"}        the job reached a stage (an abort still tells where it died)
#   {"event": "result", "seq", "payload"}     the job's outcome (status passed / failed / skipped)
# Everything else the tests write, to fd 1 or fd 2, from Python or from C (the CUTLASS "FATAL" line), goes
# to stderr, where "\n<prefix> END <seq>\n" closes each job's share of the output. The parent process keeps
# the watchdog, kills this process when a job hangs, and starts a new worker after a crash or a failure.
# Keep it dependency-free and old-Python friendly: it runs inside GPT-SoVITS bundles.
import faulthandler
import json
import linecache
import os
import sys
import time
import traceback

PREFIX = sys.argv[1] if len(sys.argv) > 1 else "ENVDOCTOR-WORKER"


def _open_channels():
    """(protocol writer, job reader): private copies of fd 1 and fd 0; fd 1 then points at stderr."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="replace", newline="\n")
    jobs = os.fdopen(os.dup(0), "r", encoding="utf-8", errors="replace")
    sys.stdout.flush()
    os.dup2(2, 1)  # print() and C printf now land in the output stream, never in the protocol
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # a test (or a library it loads) must not eat the next job
    os.close(null)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
        except Exception:
            pass
    return protocol, jobs


_PROTOCOL, _JOBS = _open_channels()
# A SIGABRT/SIGSEGV then prints the Python stack to stderr: evidence of which operation died.
faulthandler.enable()


def _send(message):
    _PROTOCOL.write(PREFIX + " " + json.dumps(message, default=str) + "\n")
    _PROTOCOL.flush()


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    try:  # C-level stdio buffers (a library's printf) belong to the job that wrote them
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:
        pass


class Skip(Exception):
    def __init__(self, reason, detail=""):
        Exception.__init__(self, reason)
        self.reason = reason
        self.detail = detail


class Smoke:
    def __init__(self, params, seq=None):
        self.params = params
        self.details = {}
        self.timings = {}
        self._seq = seq
        self._stage = None
        self._t0 = time.monotonic()

    def stage(self, name):
        _send({"event": "stage", "seq": self._seq, "stage": name})
        self._stage = name
        self._stage_t0 = time.monotonic()

    def done_stage(self):
        name = self._stage
        if name:
            self.timings[name] = round(time.monotonic() - self._stage_t0, 4)

    def skip(self, reason, detail=""):
        raise Skip(reason, detail)

    def import_torch(self):
        """import torch the way the WebUI does; a CPU build is a skip, not a failure."""
        self.stage("import-torch")
        import torch

        self.done_stage()
        self.details["torch"] = str(torch.__version__)
        self.details["torch_cuda"] = getattr(torch.version, "cuda", None)
        if not getattr(torch.version, "cuda", None):
            self.skip("no-cuda-build", f"torch {torch.__version__} is a CPU build (torch.version.cuda is None)")
        return torch

    def torch(self):
        """import_torch(), and no usable GPU is a skip too."""
        torch = self.import_torch()
        if not torch.cuda.is_available():
            self.skip("no-cuda", "torch.cuda.is_available() is False")
        return torch

    def device(self, torch):
        index = int(self.params.get("device", 0))
        if index >= torch.cuda.device_count():
            self.skip("no-device", f"torch sees {torch.cuda.device_count()} CUDA device(s), not device {index}")
        major, minor = torch.cuda.get_device_capability(index)
        self.details["device"] = {"index": index, "name": torch.cuda.get_device_name(index),
                                  "cc": f"{major}.{minor}"}
        return torch.device("cuda", index)

    def close(self, got, want, atol, rtol, what):
        """GPU result vs CPU reference: a kernel that runs but computes garbage is a failure too."""
        import torch

        got = got.detach().float().cpu()
        want = want.detach().float().cpu()
        if got.shape != want.shape:
            raise AssertionError(f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        if not torch.isfinite(got).all():
            raise AssertionError(f"{what}: non-finite values in the GPU result")
        if not torch.allclose(got, want, atol=atol, rtol=rtol):
            worst = float((got - want).abs().max())
            raise AssertionError(f"{what}: GPU result differs from the CPU reference (max abs diff {worst:.4g})")


def _load(name, source):
    """The script's main(), compiled under a file name that tracebacks can quote lines from."""
    filename = "<smoke:" + name + ">"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__envdoctor_smoke__", "__builtins__": __builtins__}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["main"]


def _run_job(job):
    smoke = Smoke(job.get("params") or {}, job.get("seq"))
    payload = {"status": "passed"}
    try:
        _load(job.get("name", "?"), job["source"])(smoke)
        smoke.done_stage()
    except Skip as skip:
        payload = {"status": "skipped", "reason": skip.reason, "error": skip.detail}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt in a test are its failure, too
        text = f"{type(exc).__name__}: {exc}"
        tail = traceback.format_exception(type(exc), exc, exc.__traceback__)
        payload = {"status": "failed", "error": text[-4000:], "traceback": "".join(tail)[-4000:],
                   "stage": smoke._stage}
    payload["details"] = smoke.details
    smoke.timings["elapsed"] = round(time.monotonic() - smoke._t0, 4)
    payload["timings"] = smoke.timings
    return payload


def _serve():
    _send({"event": "ready", "pid": os.getpid(), "python": sys.version.split()[0]})
    while True:
        line = _JOBS.readline()
        if not line:
            break
        if not line.strip():
            continue
        job = json.loads(line)
        seq = job.get("seq")
        _send({"event": "start", "seq": seq})
        payload = _run_job(job)
        _flush_output()
        os.write(2, ("\n" + PREFIX + " END " + str(seq) + "\n").encode("utf-8"))
        _send({"event": "result", "seq": seq, "payload": payload})
    # Skip interpreter teardown: freeing a broken CUDA context can hang or crash after the answers are out.
    _flush_output()
    os._exit(0)


_serve()
