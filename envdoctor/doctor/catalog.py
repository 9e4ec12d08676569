"""The smoke tests doctor knows: name, script, parameters, what GPT-SoVITS feature each stands for.

Tests run in this order on each GPU; `cuda` goes first because when it finds no usable CUDA, the
others have nothing to test (they are then skipped with its reason, without running them).
"""

from __future__ import annotations

import fnmatch
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from envdoctor.errors import UsageError


@dataclass(frozen=True)
class SmokeTest:
    name: str
    script: str  # file under envdoctor/doctor/scripts/
    params: Dict[str, Any] = field(default_factory=dict)
    needs: str = "torch"  # "torch" | "onnxruntime" | "extension"
    feature: str = "core"  # "core" | "fp16" | "v2pro-sv" | "g2pw" | "extension": what breaks when it fails
    timeout_s: float = 180.0  # first use of a PTX-only build JIT-compiles kernels: minutes, not seconds
    source: Optional[str] = None  # the script's text itself instead of `script` (tests' own catalogues)


TESTS: Tuple[SmokeTest, ...] = (
    SmokeTest("cuda", "cuda_basics.py"),
    SmokeTest("elementwise", "kernels.py", {"op": "elementwise", "dtype": "float32"}),
    SmokeTest("matmul-fp32", "kernels.py", {"op": "matmul", "dtype": "float32"}),
    SmokeTest("matmul-fp16", "kernels.py", {"op": "matmul", "dtype": "float16"}, feature="fp16"),
    SmokeTest("conv1d-fp32", "kernels.py", {"op": "conv1d", "dtype": "float32"}),
    SmokeTest("conv1d-fp16", "kernels.py", {"op": "conv1d", "dtype": "float16"}, feature="fp16"),
    SmokeTest("sdpa-efficient", "sdpa.py", {"backend": "efficient"}, feature="fp16"),
    SmokeTest("sdpa-default", "sdpa.py", {"backend": "default"}, feature="fp16"),
    SmokeTest("fft-fp32", "fft.py", {"dtype": "float32"}, feature="v2pro-sv"),
    SmokeTest("fft-fp16", "fft.py", {"dtype": "float16"}, feature="v2pro-sv"),
    SmokeTest("onnxruntime-cuda", "onnxruntime_cuda.py", needs="onnxruntime", feature="g2pw"),
    SmokeTest("extension", "extension_kernel.py", needs="extension", feature="extension"),
)
TEST_NAMES = tuple(t.name for t in TESTS)
# Groups of tests, derived from the catalogue so that a renamed or added test cannot fall out of them.
FEATURE_OF: Dict[str, str] = {t.name: t.feature for t in TESTS}
TORCH_TESTS = tuple(t.name for t in TESTS if t.needs == "torch")
FP16_TESTS = tuple(t.name for t in TESTS if t.feature == "fp16")
SV_TESTS = tuple(t.name for t in TESTS if t.feature == "v2pro-sv")
# The v2Pro fbank runs in fp32 unless GPT-SoVITS infers in fp16.
SV_FP32_TESTS = tuple(t.name for t in TESTS if t.feature == "v2pro-sv" and t.params.get("dtype") == "float32")
# The fused attention of the memo's FP16 abort, with the memory-efficient kernel forced and by default.
ATTENTION_TESTS = tuple(t.name for t in TESTS if t.script == "sdpa.py")
# Plain kernels of torch's own: they run only where the build has code for the GPU.
BASIC_KERNEL_TESTS = tuple(t.name for t in TESTS if t.needs == "torch" and t.feature == "core"
                           and t.params.get("dtype") == "float32" and t.params.get("op") in ("elementwise", "matmul"))
# What must pass on every GPU before doctor says no torch upgrade is needed: CUDA itself, a plain kernel,
# and one test of each feature GPT-SoVITS runs on the GPU by default.
KEY_TESTS = ("cuda", BASIC_KERNEL_TESTS[0], ATTENTION_TESTS[0], SV_FP32_TESTS[0])
# Runs only when asked for (doctor --extension PATH): it tests a library the user names.
OPT_IN = ("extension",)


def get(name: str) -> SmokeTest:
    for test in TESTS:
        if test.name == name:
            return test
    raise KeyError(name)


def _expand(patterns: Sequence[str]) -> List[str]:
    """'fft-*' or 'fft' (a prefix of a group) or an exact name -> test names; unknown -> UsageError."""
    chosen: List[str] = []
    for raw in patterns:
        for pattern in (p.strip() for p in raw.split(",")):
            if not pattern:
                continue
            hits = [n for n in TEST_NAMES if fnmatch.fnmatchcase(n, pattern) or n.startswith(pattern + "-")]
            if not hits:
                raise UsageError("error.smoke_unknown_test", name=pattern, choices=", ".join(TEST_NAMES))
            chosen.extend(h for h in hits if h not in chosen)
    return chosen


def select(only: Optional[Sequence[str]] = None, skip: Optional[Sequence[str]] = None,
           extension: Optional[str] = None) -> Tuple[SmokeTest, ...]:
    names = _expand(only) if only else [n for n in TEST_NAMES if n not in OPT_IN or (n == "extension" and extension)]
    dropped = set(_expand(skip)) if skip else set()
    return tuple(get(n) for n in TEST_NAMES if n in names and n not in dropped)


_HARNESS = "_harness.py"


def script_source(test: SmokeTest) -> str:
    """The test's script: defines main(smoke); the worker (scripts/_harness.py) runs it."""
    return test.source if test.source is not None else _read(test.script)


def worker_source() -> str:
    """The worker the runtime's Python runs with `-c`: it runs scripts sent to it, one after another."""
    return _read(_HARNESS)


def _read(name: str) -> str:
    # pkgutil works from a wheel, a source checkout and the zipapp alike.
    data = pkgutil.get_data("envdoctor.doctor", f"scripts/{name}")
    if data is None:  # pragma: no cover - only with a broken install
        raise FileNotFoundError(name)
    return data.decode("utf-8")
