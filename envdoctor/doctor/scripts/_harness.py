# The harness appended to every smoke script, run by the *target runtime's* Python (3.8+, any torch).
# It hands the script a `smoke` object, prints one "ENVDOCTOR-SMOKE {json}" marker line with the
# outcome, and announces stages ("ENVDOCTOR-STAGE name") so that an abort still tells where it died.
# Keep it dependency-free and old-Python friendly: it runs inside GPT-SoVITS bundles.
import faulthandler
import json
import os
import sys
import time
import traceback

try:
    sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    sys.stderr.reconfigure(encoding="utf-8", errors="replace")
except Exception:
    pass
# A SIGABRT/SIGSEGV then prints the Python stack to stderr: evidence of which operation died.
faulthandler.enable()


class Skip(Exception):
    def __init__(self, reason, detail=""):
        Exception.__init__(self, reason)
        self.reason = reason
        self.detail = detail


class Smoke:
    def __init__(self, params):
        self.params = params
        self.details = {}
        self.timings = {}
        self._t0 = time.monotonic()

    def stage(self, name):
        sys.stdout.write("ENVDOCTOR-STAGE " + name + "\n")
        sys.stdout.flush()
        self._stage = name
        self._stage_t0 = time.monotonic()

    def done_stage(self):
        name = getattr(self, "_stage", None)
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


def _emit(payload):
    sys.stdout.write("ENVDOCTOR-SMOKE " + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()


def _run(entry):
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    smoke = Smoke(params)
    payload = {"status": "passed"}
    try:
        entry(smoke)
        smoke.done_stage()
    except Skip as skip:
        payload = {"status": "skipped", "reason": skip.reason, "error": skip.detail}
    except BaseException as exc:
        text = f"{type(exc).__name__}: {exc}"
        tail = traceback.format_exception(type(exc), exc, exc.__traceback__)
        payload = {"status": "failed", "error": text[-4000:], "traceback": "".join(tail)[-4000:],
                   "stage": getattr(smoke, "_stage", None)}
    payload["details"] = smoke.details
    payload["timings"] = smoke.timings
    payload["elapsed_s"] = round(time.monotonic() - smoke._t0, 4)
    _emit(payload)
    # Skip interpreter teardown: freeing a broken CUDA context can hang or crash after the answer is out.
    os._exit(0)


_run(main)  # noqa: F821 - `main` is the smoke script this harness is appended to
