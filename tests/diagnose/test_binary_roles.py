"""Every CUDA binary's role sets what a missing kernel means (matrices/binaries.yaml).

Facts are built by hand here (the fat-binary scanner has its own tests); the matrix is the real one.
The arch lists are the measured ones (design/facts.md, "Measured on real builds"): torch 2.14.1 cu130
libtorch_cuda.so sm_75..sm_120, libtorch_cuda_linalg.so from sm_80; cuFFT registers a one-entry stub
and keeps its kernels in further containers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional

import pytest

from envdoctor.diagnose.engine import diagnose, overall_verdict
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import (
    BinaryCoverageSummary,
    Driver,
    Facts,
    Finding,
    Gpu,
    GpuFacts,
    Runtime,
    Severity,
    TorchBuild,
    Verdict,
)

REPO = Path(__file__).resolve().parents[2]
SITE = "/bundle/runtime/lib/python3.11/site-packages"
TORCH = f"{SITE}/torch"
CU130_CORE = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
CU130_LINALG = ["sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


@pytest.fixture(scope="module")
def matrix():
    return load_matrix(str(REPO / "matrices"), cache=None)


def counts(archs: Iterable[str]) -> Dict[str, int]:
    return {a: 1 for a in archs}


def binary(path: str, sass: Iterable[str] = (), ptx: Iterable[str] = (), embedded_sass: Iterable[str] = (),
           error: Optional[str] = None) -> BinaryCoverageSummary:
    return BinaryCoverageSummary(path, counts(sass), counts(ptx), error, counts(embedded_sass), {})


def facts(gpu: str, cc, binaries, version: str = "2.14.1+cu130", cuda: str = "13.0",
          driver: str = "580.65.06", platform: str = "linux") -> Facts:
    runtime = Runtime("/bundle/runtime", "/bundle/runtime/bin/python3", "posix-prefix", platform, "3.11", (SITE,))
    release, _, local = version.partition("+")
    torch = TorchBuild(version, release, local, cuda, None, None, None, TORCH)
    return Facts(GpuFacts((Gpu(0, gpu, cc),), Driver(driver, "13.0")), runtime, torch, binaries=tuple(binaries))


def by_code(findings: List[Finding]) -> Dict[str, Finding]:
    return {f.code: f for f in findings}


def test_turing_on_cu130_is_not_blocked_by_linalg(matrix) -> None:
    """The issue's first reproduction: libtorch_cuda has sm_75, libtorch_cuda_linalg starts at sm_80."""
    found = diagnose(facts("Tesla T4", (7, 5), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{TORCH}/lib/libtorch_cuda_linalg.so", CU130_LINALG),
    ]), matrix)
    codes = by_code(found)
    assert codes["kernels-native"].severity is Severity.OK
    assert "no-kernels-for-gpu" not in codes
    linalg = codes["library-lacks-kernels"]
    # information, not a warning: GPT-SoVITS never calls CUDA linalg (issue 24.7; issue 11 said warning)
    assert linalg.severity is Severity.OK and linalg.params["binary"] == "libtorch_cuda_linalg.so"
    assert "torch.linalg" in linalg.params["serves"]["en"]
    assert "modules.py" in linalg.params["why"]["en"]  # why GPT-SoVITS does not need it, with the file
    assert overall_verdict(found) is Verdict.READY


def test_pascal_on_cu130_still_fails(matrix) -> None:
    found = diagnose(facts("NVIDIA GeForce GTX 1080", (6, 1), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{TORCH}/lib/libtorch_cuda_linalg.so", CU130_LINALG),
    ]), matrix)
    assert by_code(found)["no-kernels-for-gpu"].severity is Severity.BLOCKING
    assert by_code(found)["no-kernels-for-gpu"].params["lacking"] == "libtorch_cuda.so"
    assert overall_verdict(found) is Verdict.WILL_FAIL


def test_cufft_stub_alone_is_not_judged(matrix) -> None:
    """A cuFFT whose embedded containers were not seen: uncertain, a warning that points to doctor."""
    found = diagnose(facts("NVIDIA GeForce RTX 4060", (8, 9), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/nvidia/cu13/lib/libcufft.so.12", ["sm_75"]),
    ]), matrix)
    unseen = by_code(found)["library-kernels-unseen"]
    assert unseen.severity is Severity.WARNING and unseen.params["library"] == "cuFFT"
    assert overall_verdict(found) is Verdict.WARNINGS


def test_cufft_embedded_kernels_count(matrix) -> None:
    """Registered stub sm_52 + embedded sm_120 SASS (the Windows cufft64_11.dll of the issue): native."""
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/torch_cuda.dll", CU130_CORE),
        binary(f"{TORCH}/lib/cufft64_11.dll", ["sm_52"], embedded_sass=["sm_80", "sm_86", "sm_90", "sm_120"]),
    ], platform="windows", driver="580.88"), matrix)
    assert {f.code for f in found if f.severity is not Severity.OK} <= {"driver-minor-compat"}
    assert not [f for f in found if "cufft" in str(f.params.get("binary", ""))]


def test_a_needed_library_without_kernels_blocks_with_its_reason(matrix) -> None:
    """cuFFT whose embedded containers were read and hold nothing for the GPU: torch.stft fails."""
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/nvidia/cufft/lib/libcufft.so.11", ["sm_52"], embedded_sass=["sm_80", "sm_86", "sm_90"]),
    ]), matrix)
    needed = by_code(found)["needed-library-lacks-kernels"]
    assert needed.severity is Severity.BLOCKING
    assert "torch.stft" in needed.params["why"]["en"] and "inference_webui.py" in needed.params["why"]["en"]
    assert overall_verdict(found) is Verdict.WILL_FAIL


def test_a_damaged_needed_library_only_warns(matrix) -> None:
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/nvidia/cublas/lib/libcublasLt.so.12", ["sm_80"], error="truncated"),
    ]), matrix)
    assert by_code(found)["library-lacks-kernels"].severity is Severity.WARNING
    assert overall_verdict(found) is Verdict.WARNINGS


def test_a_damaged_core_library_only_warns(matrix) -> None:
    found = diagnose(facts("Tesla T4", (7, 5), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", ["sm_100"], error="truncated"),
    ]), matrix)
    assert by_code(found)["no-kernels-for-gpu"].severity is Severity.WARNING


def test_extension_names_the_feature(matrix) -> None:
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/torchaudio/lib/libtorchaudio.so", ["sm_60", "sm_70", "sm_80", "sm_90"]),
    ]), matrix)
    extension = by_code(found)["extension-lacks-kernels"]
    assert extension.severity is Severity.WARNING and "RNN-T" in extension.params["serves"]["en"]


def test_onnxruntime_cuda_provider_is_judged_as_g2pw(matrix) -> None:
    """G2PW's own rule speaks for onnxruntime's CUDA provider (no "upgrade to a build" that does not
    exist); without the onnxruntime-gpu distribution it cannot tell whether the provider loads: a warning."""
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/onnxruntime/capi/libonnxruntime_providers_cuda.so", ["sm_60", "sm_70", "sm_80", "sm_90"]),
    ]), matrix)
    assert "extension-lacks-kernels" not in by_code(found)
    assert by_code(found)["g2pw-no-kernels"].severity is Severity.WARNING


def test_unknown_binary_warns(matrix) -> None:
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/somepkg/_kernels.so", ["sm_80"]),
    ]), matrix)
    assert by_code(found)["binary-lacks-kernels"].severity is Severity.WARNING


def test_split_core_build_decides(matrix) -> None:
    """torch 1.8-1.12 split torch_cuda into torch_cuda_cu and torch_cuda_cpp: both are core."""
    found = diagnose(facts("NVIDIA GeForce RTX 3060", (8, 6), [
        binary(f"{TORCH}/lib/libtorch_cuda_cu.so", ["sm_37", "sm_50", "sm_60", "sm_70"]),
        binary(f"{TORCH}/lib/libtorch_cuda_cpp.so", ["sm_37", "sm_50", "sm_60", "sm_70"]),
    ], version="1.10.2+cu102", cuda="10.2"), matrix)
    assert by_code(found)["no-kernels-for-gpu"].params["lacking"] == "libtorch_cuda_cu.so, libtorch_cuda_cpp.so"


def test_messages_fill_the_matrix_text_in_each_language(matrix) -> None:
    from envdoctor.i18n import message

    found = diagnose(facts("Tesla T4", (7, 5), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{TORCH}/lib/libtorch_cuda_linalg.so", CU130_LINALG),
    ]), matrix)
    linalg = by_code(found)["library-lacks-kernels"]
    en = message("en", "finding.library-lacks-kernels.detail", **linalg.params)
    zh = message("zh_CN", "finding.library-lacks-kernels.detail", **linalg.params)
    assert "torch.linalg" in en and "{" not in en
    assert "矩阵分解" in zh and "{" not in zh


def test_nvrtc_before_11_8_is_capped_by_torch(matrix) -> None:
    """torch's jiterator asks NVRTC 11.1-11.7 for compute_86 PTX at most (jit_utils.cpp), so an RTX 40
    on a cu117 build is not "NVRTC too old"; a CUDA 12.4 NVRTC on an RTX 50 still is (the memo)."""
    found = diagnose(facts("NVIDIA GeForce RTX 4090", (8, 9), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", ["sm_37", "sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86"]),
    ], version="2.0.1+cu117", cuda="11.7", driver="580.65.06"), matrix)
    assert "nvrtc-too-old" not in by_code(found) and by_code(found)["kernels-native"]
    memo = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]),
    ], version="2.6.0+cu124", cuda="12.4"), matrix)
    assert by_code(memo)["nvrtc-too-old"].severity is Severity.BLOCKING


def test_searched_cufft_without_embedded_kernels_is_not_a_verdict(matrix) -> None:
    """The search ran and found none of the containers cuFFT is known to keep: not the file the
    matrix knows, so no blocking verdict on it."""
    stub = BinaryCoverageSummary(f"{SITE}/nvidia/cu13/lib/libcufft.so.12", {"sm_75": 1}, {}, None, {}, {}, True)
    found = diagnose(facts("NVIDIA GeForce RTX 5060 Ti", (12, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE), stub]), matrix)
    unseen = by_code(found)["library-kernels-unseen"]
    assert unseen.severity is Severity.WARNING and "embedded containers: searched" in unseen.evidence


def test_a_healthy_h100_runtime_is_ready_despite_cufftw_and_cufile(matrix) -> None:
    """What torch 2.11.0+cu130's runtime holds (measured on the GPU machine): cuFFTW is a one-entry stub
    in front of cuFFT's kernels, cuFILE (GPUDirect Storage, unused by GPT-SoVITS) has PTX up to sm_86."""
    nvidia = f"{SITE}/nvidia/cu13/lib"
    found = diagnose(facts("NVIDIA H100 80GB HBM3", (9, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{nvidia}/libcufft.so.12", ["sm_75"], embedded_sass=["sm_75", "sm_80", "sm_90", "sm_120"]),
        binary(f"{nvidia}/libcufftw.so.12", ["sm_75"]),
        binary(f"{nvidia}/libcufile.so.0", ["sm_75", "sm_80", "sm_86"], ["sm_86"]),
    ]), matrix)
    assert overall_verdict(found) is Verdict.READY, [(f.code, f.severity) for f in found]
    assert not any("libcufftw" in str(f.params.get("binary")) for f in found)
    cufile = [f for f in found if f.params.get("binary") == "libcufile.so.0"]
    assert [(f.code, f.severity) for f in cufile] == [("binary-ptx-jit-only", Severity.OK)]


def test_ptx_only_in_a_library_gpt_sovits_uses_still_warns(matrix) -> None:
    found = diagnose(facts("NVIDIA H100 80GB HBM3", (9, 0), [
        binary(f"{TORCH}/lib/libtorch_cuda.so", CU130_CORE),
        binary(f"{SITE}/nvidia/cu13/lib/libcublas.so.13", ["sm_75", "sm_80"], ["sm_86"]),
    ]), matrix)
    assert [(f.code, f.severity) for f in found if f.params.get("binary") == "libcublas.so.13"] == [
        ("binary-ptx-jit-only", Severity.WARNING)]
