"""Real venvs whose `torch` (and `onnxruntime`) are small stand-ins that fail the way real ones do.

The venv, its interpreter, site-packages and dist-info are real; only the library behaviour is
scripted, per run, through the ENVDOCTOR_FAKE_TORCH environment variable (JSON):

  {"available": true, "cc": [12, 0], "name": "NVIDIA GeForce RTX 5060 Ti",
   "fail": {"sdpa": "abort", "rfft": "nvrtc", ...}}

Each failure prints the real error text of the memo / torch / CUDA and then raises, aborts
(SIGABRT), exits 3 (what abort() does on Windows), segfaults or hangs, inside the smoke script's
child process, so the runner's classification is tested against real process endings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ENV = "ENVDOCTOR_FAKE_TORCH"

FATAL_SM = "FATAL: this function is for sm80, but was built for sm370"
NVRTC_TEXT = (
    "\n  default_program(22): warning: variable declared but never referenced\n\n"
    "nvrtc: error: invalid value for --gpu-architecture (-arch)\n\nnvrtc compilation failed: \n"
)
NO_KERNEL = (
    "CUDA error: no kernel image is available for execution on the device\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
    "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1"
)
DRIVER_OLD = (
    "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). Please update "
    "your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/"
    "index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled "
    "with your version of the CUDA driver."
)

TORCH_INIT = r'''
"""Stand-in torch for envdoctor's doctor tests (see tests/doctor/fake_runtime.py)."""
import json as _json
import os as _os
import signal as _signal
import sys as _sys
import time as _time
import warnings as _warnings

_FAKE = _json.loads(_os.environ.get("ENVDOCTOR_FAKE_TORCH") or "{}")
_FAIL = _FAKE.get("fail", {})

from torch import version  # noqa: E402  (the real torch/version.py written beside this file)

__version__ = version.__version__


def _break(op):
    how = _FAIL.get(op)
    if not how:
        return
    if how in ("abort", "abort-win"):
        # Device printf goes to stdout; the process then dies without a Python exception.
        _sys.stdout.write(_FAKE.get("fatal", "FATAL: this function is for sm80, but was built for sm370") + "\n")
        _sys.stdout.flush()
        if how == "abort":
            _os.abort()
        _os._exit(3)  # what abort() does to a process on Windows
    if how == "segv":
        _os.kill(_os.getpid(), _signal.SIGSEGV)
    if how == "hang":
        _time.sleep(3600)
    if how == "nvrtc":
        raise RuntimeError(_FAKE.get("nvrtc_text", "nvrtc: error: invalid value for --gpu-architecture (-arch)"))
    if how == "no-kernel":
        raise RuntimeError(_FAKE.get("no_kernel_text", "CUDA error: no kernel image is available"))
    if how == "garbage":
        return "garbage"
    raise RuntimeError(how)


if _FAIL.get("import"):
    raise OSError(_FAIL["import"])

float32 = "float32"
float16 = "float16"


class device(object):
    def __init__(self, kind, index=None):
        self.type = kind
        self.index = index


class Generator(object):
    def manual_seed(self, seed):
        return self


class Tensor(object):
    def __init__(self, shape, dev="cpu", dtype="float32", value=1.0):
        self.shape = tuple(shape)
        self.device = dev
        self.dtype = dtype
        self.value = value

    def _like(self, value=None, shape=None):
        return Tensor(self.shape if shape is None else shape, self.device, self.dtype,
                      self.value if value is None else value)

    def _on_gpu(self):
        return getattr(self.device, "type", self.device) == "cuda"

    def to(self, *args, **kwargs):
        out = self._like()
        for arg in args:
            if isinstance(arg, device) or arg in ("cuda", "cpu"):
                out.device = arg
            elif arg in (float32, float16):
                out.dtype = arg
        return out

    def half(self):
        return self.to(float16)

    def float(self):
        return self.to(float32)

    def cpu(self):
        return self.to("cpu")

    def detach(self):
        return self

    def abs(self):
        if self._on_gpu():
            _break("abs")
        return self._like()

    def sum(self):
        return self._like(self.value * _size(self.shape), ())

    def item(self):
        return self.value

    def all(self):
        return True

    def max(self):
        return 0.0

    def __float__(self):
        return float(self.value)

    def _binary(self, other):
        if self._on_gpu():
            _break("elementwise")
        return self._like()

    __add__ = __radd__ = __mul__ = __rmul__ = __sub__ = __truediv__ = _binary

    def __matmul__(self, other):
        if self._on_gpu():
            _break("matmul-" + self.dtype)
        return self._like(shape=self.shape[:-1] + other.shape[-1:])


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def randn(*shape, **kwargs):
    return Tensor(shape)


def ones(n, device="cpu"):
    if getattr(device, "type", device) == "cuda":
        _break("ones")
    return Tensor((n,), device)


def isfinite(t):
    return t


def allclose(a, b, atol=0.0, rtol=0.0):
    return _FAIL.get("allclose") != "false"


class no_grad(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _C(object):
    @staticmethod
    def _cuda_getArchFlags():
        return " ".join(_FAKE.get("arch_list", ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]))


class _Props(object):
    def __init__(self):
        self.name = cuda.get_device_name(0)
        self.major, self.minor = _FAKE.get("cc", [12, 0])
        self.total_memory = 16 * 1024 ** 3
        self.multi_processor_count = 36


class cuda(object):
    @staticmethod
    def is_available():
        if _FAKE.get("warning"):
            _warnings.warn(_FAKE["warning"], UserWarning)
        return bool(_FAKE.get("available", True))

    @staticmethod
    def device_count():
        return 1 if cuda.is_available() else 0

    @staticmethod
    def get_arch_list():
        return _C._cuda_getArchFlags().split() if cuda.is_available() else []

    @staticmethod
    def get_device_capability(index=0):
        return tuple(_FAKE.get("cc", [12, 0]))

    @staticmethod
    def get_device_name(index=0):
        # Echo which GPU the runner made visible, so tests can check the selection.
        env = _os.environ
        return "%s [%s|%s]" % (_FAKE.get("name", "Fake GPU"), env.get("CUDA_VISIBLE_DEVICES", ""),
                                env.get("CUDA_DEVICE_ORDER", ""))

    @staticmethod
    def get_device_properties(dev):
        return _Props()

    @staticmethod
    def synchronize(dev=None):
        return None


class backends(object):
    class cudnn(object):
        @staticmethod
        def version():
            return 90100

    class cuda(object):
        pass


class fft(object):
    @staticmethod
    def rfft(t):
        if t._on_gpu():
            _break("rfft-" + t.dtype)
        return t._like(shape=t.shape[:-1] + (t.shape[-1] // 2 + 1,))


class _Functional(object):
    @staticmethod
    def scaled_dot_product_attention(q, k, v):
        if q._on_gpu():
            _break("sdpa-" + _BACKEND[0])
        return q._like()


_BACKEND = ["default"]


class _SdpaKernel(object):
    def __init__(self, backends):
        self.backends = backends

    def __enter__(self):
        _BACKEND[0] = "efficient"

    def __exit__(self, *exc):
        _BACKEND[0] = "default"
        return False


class _Attention(object):
    class SDPBackend(object):
        EFFICIENT_ATTENTION = "EFFICIENT_ATTENTION"

    @staticmethod
    def sdpa_kernel(backends):
        return _SdpaKernel(backends)


class _Conv1d(object):
    def __init__(self, cin, cout, kernel_size, padding=0):
        self.cout = cout
        self.device = "cpu"
        self.dtype = float32

    def to(self, dev, dtype=None):
        self.device = dev
        self.dtype = dtype or self.dtype
        return self

    def __call__(self, x):
        if x._on_gpu():
            _break("conv1d-" + x.dtype)
        return x._like(shape=(x.shape[0], self.cout, x.shape[2]))


class nn(object):
    functional = _Functional
    attention = _Attention
    Conv1d = _Conv1d
'''

ORT_INIT = r'''
"""Stand-in onnxruntime-gpu: the CUDA provider is listed but fails the way a mismatched build does."""
import os as _os
import sys as _sys

__version__ = "1.19.2"
_MODE = _os.environ.get("ENVDOCTOR_FAKE_ORT", "ok")


def get_available_providers():
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


class InferenceSession(object):
    def __init__(self, model, providers=None):
        self.model = model
        names = [p[0] if isinstance(p, tuple) else p for p in providers or []]
        self._providers = names
        if "CUDAExecutionProvider" in names and _MODE == "fallback":
            _sys.stderr.write(
                "[E:onnxruntime:Default, provider_bridge_ort.cc:1992 TryGetProviderInfo_CUDA] "
                "LoadLibrary failed with error 126 \"\" when trying to load "
                "\"C:\\GPT-SoVITS\\runtime\\Lib\\site-packages\\onnxruntime\\capi\\onnxruntime_providers_cuda.dll\"\n")
            self._providers = [n for n in names if n != "CUDAExecutionProvider"]

    def get_providers(self):
        return list(self._providers)

    def run(self, outputs, feeds):
        x, y = feeds["X"], feeds["Y"]
        return [x * y + x]
'''


def _site_packages(venv: Path) -> Path:
    found = sorted((venv / "lib").glob("python3.*/site-packages"))
    return found[0]


def make_fake_runtime(root: Path, torch_version: str = "2.6.0+cu124", cuda: str = "12.4",
                      onnxruntime: bool = False) -> Path:
    """A real venv (no pip) with the stand-in torch; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = _site_packages(root)
    pkg = site / "torch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(TORCH_INIT, encoding="utf-8")
    (pkg / "version.py").write_text(
        f"__version__ = '{torch_version}'\ndebug = False\ncuda = '{cuda}'\ngit_version = 'fake'\nhip = None\n",
        encoding="utf-8")
    (pkg / "lib").mkdir()
    _dist_info(site, "torch", torch_version)
    if onnxruntime:
        ort = site / "onnxruntime"
        ort.mkdir()
        (ort / "__init__.py").write_text(ORT_INIT, encoding="utf-8")
        _dist_info(site, "onnxruntime-gpu", "1.19.2")
        # numpy stand-in is not needed: the host's numpy is not visible in the venv, so give a tiny one.
        np_dir = site / "numpy"
        np_dir.mkdir()
        (np_dir / "__init__.py").write_text(NUMPY_INIT, encoding="utf-8")
    return root / "bin" / "python"


NUMPY_INIT = r'''
"""Just enough numpy for the onnxruntime smoke script, for the stand-in onnxruntime."""
float32 = "float32"


class _Array(list):
    def __mul__(self, other):
        return _Array(a * b for a, b in zip(self, other))

    def __add__(self, other):
        return _Array(a + b for a, b in zip(self, other))


def linspace(start, stop, num, dtype=None):
    step = (stop - start) / (num - 1)
    return _Array(start + i * step for i in range(num))


def full(num, value, dtype=None):
    return _Array([value] * num)


def allclose(a, b, atol=0.0):
    return all(abs(x - y) <= atol + 1e-12 for x, y in zip(a, b))
'''


def _dist_info(site: Path, name: str, version: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")


def scenario_env(**scenario) -> dict:
    env = dict(os.environ)
    env[ENV] = json.dumps(scenario)
    return env
