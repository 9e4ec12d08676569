"""The expected-verdict table: every (torch build x GPU compute capability in matrices/gpus.yaml),
running the real `check` (files only, --no-live) on a runtime whose libraries the real scanner reads.

The expected verdict is written down here from the sources, not from envdoctor's output:
  1. the build's kernels: the SASS list of the default Linux wheel's libtorch_cuda.so, measured
     (design/facts.md, "Measured on real builds", 2026-11-29; = torch._C._cuda_getArchFlags()
     recorded in matrices/torch.yaml): no PTX in any of them;
  2. NVIDIA's binary compatibility rule (CUDA C++ Programming Guide, "Binary Compatibility"): SASS
     sm_XY runs on X.Z for Z >= Y, same major only; "a" variants on exactly X.Y;
  3. the GPU's compute capability (developer.nvidia.com/cuda-gpus, matrices/gpus.yaml);
  4. NVRTC of the build's CUDA version, which torch's jiterator calls with the GPU's own arch from
     NVRTC 11.8 on (pytorch aten/src/ATen/native/cuda/jit_utils.cpp caps it only below 11.8):
     nvrtcGetSupportedArchs measured (facts.md): 12.6 sm_50..sm_90, 12.8 adds sm_100/101/120,
     13.0: 75 80 86 87 88 89 90 100 103 110 120 121. An arch NVRTC rejects fails GPT-SoVITS v2Pro's
     fbank (the memo's second failure), so it is a will-fail.
"fail" = exit 2; "runs" = exit 0 or 1. Acceptance: no false will-fail, and the true ones stay.

Libraries: the skeleton of the real library from the corpus (tests/fixtures/corpus, made from the
wheels by tools/make_skeleton.py) wherever the corpus has it; otherwise a small real ELF whose
fat-binary headers list the measured archs (tests/support/fatbin_elf). cu130 runtimes also carry
cuFFT (the corpus' libcufft.so.12, else its registered one-entry stub: 1 x sm_75, measured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from envdoctor.cli.main import main
from tests.support.fatbin_elf import write_elf, write_pe

# (1) measured SASS of the default Linux wheels (libtorch_cuda.so; libtorch_cuda_linalg.so where measured)
CORE = {
    "2.7.1+cu126": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"],
    "2.8.0+cu128": ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    "2.11.0+cu130": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_90a", "sm_100", "sm_100a", "sm_120", "sm_120a",
                     "sm_121a"],
    "2.14.1+cu130": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_90a", "sm_100", "sm_100a", "sm_120", "sm_120a",
                     "sm_121a"],
}
LINALG = {
    "2.8.0+cu128": ["sm_50", "sm_60", "sm_70", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    "2.11.0+cu130": ["sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    "2.14.1+cu130": ["sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
}
CUFFT_STUB = {"2.11.0+cu130": ["sm_75"], "2.14.1+cu130": ["sm_75"]}  # nvidia/cu13/lib/libcufft.so.12
CUDA = {"2.7.1+cu126": "12.6", "2.8.0+cu128": "12.8", "2.11.0+cu130": "13.0", "2.14.1+cu130": "13.0"}

# (3) one GPU per compute capability in matrices/gpus.yaml (names from its examples)
GPUS = {
    "12.1": "NVIDIA GB10", "12.0": "NVIDIA GeForce RTX 5060 Ti", "11.0": "NVIDIA Jetson AGX Thor",
    "10.3": "NVIDIA B300 SXM6 AC", "10.0": "NVIDIA B200", "9.0": "NVIDIA H100 80GB HBM3",
    "8.9": "NVIDIA GeForce RTX 4060 Laptop GPU", "8.7": "NVIDIA Jetson AGX Orin", "8.6": "NVIDIA GeForce RTX 3060",
    "8.0": "NVIDIA A100-SXM4-80GB", "7.5": "Tesla T4", "7.2": "NVIDIA Jetson AGX Xavier",
    "7.0": "Tesla V100-SXM2-16GB", "6.2": "NVIDIA Jetson TX2", "6.1": "NVIDIA GeForce GTX 1080 Ti",
    "6.0": "Tesla P100-PCIE-16GB", "5.3": "NVIDIA Jetson Nano", "5.2": "NVIDIA GeForce GTX 970",
    "5.0": "NVIDIA GeForce GTX 750 Ti", "3.7": "Tesla K80",
}

# The table, worked out by hand from (1)-(4). Reason beside each "fail".
F, R = "fail", "runs"
EXPECTED: Dict[str, Dict[str, str]] = {
    # sm_50..sm_90: every 5.x-9.0 GPU has a same-major SASS at or below its minor
    "2.7.1+cu126": {
        "3.7": F,  # no sm_3x SASS, no PTX
        "5.0": R, "5.2": R, "5.3": R, "6.0": R, "6.1": R, "6.2": R, "7.0": R, "7.2": R, "7.5": R,
        "8.0": R, "8.6": R, "8.7": R, "8.9": R, "9.0": R,
        "10.0": F, "10.3": F, "11.0": F, "12.0": F, "12.1": F,  # no sm_10x/11x/12x SASS, no PTX
    },
    # sm_70..sm_120 (no 5.x/6.x); NVRTC 12.8 lacks sm_103, sm_110/sm_101-as-11.0 and sm_121
    "2.8.0+cu128": {
        "3.7": F, "5.0": F, "5.2": F, "5.3": F, "6.0": F, "6.1": F, "6.2": F,  # Pascal/Maxwell dropped
        "7.0": R, "7.2": R, "7.5": R, "8.0": R, "8.6": R, "8.7": R, "8.9": R, "9.0": R, "10.0": R,
        "10.3": F,  # sm_100 SASS runs, but NVRTC 12.8 rejects sm_103 (jiterator, v2Pro fbank)
        "11.0": F,  # no sm_11x SASS
        "12.0": R,
        "12.1": F,  # sm_120 SASS runs, but NVRTC 12.8 rejects sm_121
    },
    # sm_75..sm_120 (+a variants); NVRTC 13.0 knows every 7.5+ GPU here
    "2.11.0+cu130": {
        "3.7": F, "5.0": F, "5.2": F, "5.3": F, "6.0": F, "6.1": F, "6.2": F,
        "7.0": F, "7.2": F,  # Volta/Xavier dropped (sm_70/sm_72 not built, NVRTC 13 rejects them)
        "7.5": R, "8.0": R, "8.6": R, "8.7": R, "8.9": R, "9.0": R, "10.0": R, "10.3": R,
        "11.0": F,  # no sm_11x SASS
        "12.0": R, "12.1": R,
    },
}
EXPECTED["2.14.1+cu130"] = dict(EXPECTED["2.11.0+cu130"])  # same measured arch lists
DRIVER = "580.65.06@13.0"  # >= every build's minimum (cuda.yaml: 13.0 Linux 580.65.06)


def corpus_library(identifier: str, folder: Path, name: str) -> Optional[Path]:
    """The corpus skeleton `identifier`, materialized as folder/name; None where the corpus lacks it."""
    try:
        from tests.support import skeleton  # the corpus loader (comes with the corpus)
    except ImportError:
        return None
    path = skeleton.CORPUS / f"{identifier}.skel.xz"
    if not path.is_file():
        return None
    return skeleton.materialize_shared(path, folder / name)


def library(identifier: str, folder: Path, name: str, registered: Optional[List[str]], embedded: List[str] = (),
            windows: bool = False) -> Optional[Path]:
    """The corpus skeleton; else hand-built headers with the measured archs; None where neither exists."""
    found = corpus_library(identifier, folder, name)
    if found is not None or registered is None:
        return found
    return (write_pe if windows else write_elf)(folder / name, registered, embedded)


def linux_runtime(root: Path, build: str) -> Path:
    """A posix-prefix runtime: bin/python3, lib/python3.11/site-packages with torch's files."""
    runtime = root / "runtime"
    (runtime / "bin").mkdir(parents=True)
    (runtime / "bin" / "python3").write_text("#!/bin/sh\nexit 1\n")  # never run (--no-live)
    site = runtime / "lib" / "python3.11" / "site-packages"
    torch = site / "torch"
    (torch / "lib").mkdir(parents=True)
    write_torch_files(site, build, CUDA[build])
    corpus_id = "torch-" + build.replace("+", "-") + "-linux-"
    library(corpus_id + "libtorch_cuda", torch / "lib", "libtorch_cuda.so", CORE[build])
    library(corpus_id + "libtorch_cuda_linalg", torch / "lib", "libtorch_cuda_linalg.so", LINALG.get(build))
    if build in CUFFT_STUB:
        library("cufft-cu13-12.5.0.14-linux", site / "nvidia" / "cu13" / "lib", "libcufft.so.12", CUFFT_STUB[build])
    else:
        # CUDA 12 builds: the corpus' cu12 NVIDIA libraries stand in for the exact versions each wheel
        # pins (only where the corpus has them).
        library("cufft-cu12-11.4.1.4-linux", site / "nvidia" / "cufft" / "lib", "libcufft.so.11", None)
        library("cublas-cu12-12.9.3.13-linux", site / "nvidia" / "cublas" / "lib", "libcublas.so.12", None)
        library("cublaslt-cu12-12.9.3.13-linux", site / "nvidia" / "cublas" / "lib", "libcublasLt.so.12", None)
    return root


def write_torch_files(site: Path, build: str, cuda: Optional[str]) -> None:
    torch = site / "torch"
    torch.mkdir(parents=True, exist_ok=True)
    (torch / "version.py").write_text(
        "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
        f"__version__ = '{build}'\ndebug = False\ncuda: Optional[str] = {cuda!r}\n"
        "git_version = '0123456789abcdef'\nhip: Optional[str] = None\n", encoding="utf-8")
    (torch / "__init__.py").write_text("", encoding="utf-8")
    info = site / f"torch-{build}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {build}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    return {build: linux_runtime(tmp_path_factory.mktemp(build.replace("+", "-")), build) for build in CORE}


@pytest.fixture(scope="module")
def scan_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: each library is scanned once, not once per GPU."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated(scan_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(scan_cache))
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")


def check(root: Path, gpu: str, driver: str, capsys, monkeypatch, lang: str = "en") -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", driver)
    code = main(["check", "--root", str(root), "--json", "--no-live", "--lang", lang])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def blocking(envelope: dict) -> List[str]:
    return sorted(f["code"] for f in envelope["findings"] if f["severity"] == "blocking")


@pytest.mark.parametrize("build,cc", [(b, c) for b in EXPECTED for c in EXPECTED[b]])
def test_expected_verdict(runtimes, capsys, monkeypatch, build: str, cc: str) -> None:
    assert set(EXPECTED[build]) == set(GPUS)  # the table covers every capability of gpus.yaml
    envelope = check(runtimes[build], f"{GPUS[cc]}@{cc}", DRIVER, capsys, monkeypatch)
    expected = EXPECTED[build][cc]
    if expected == R:
        assert envelope["exit_code"] in (0, 1), f"false will-fail: {blocking(envelope)}"
    else:
        assert envelope["exit_code"] == 2
        # the reason worked out above is among the blockers (cuFFT may be a true one too: the real
        # cu13 cuFFT has no kernels for the GPUs CUDA 13 dropped)
        reasons = {"no-kernels-for-gpu", "nvrtc-too-old", "nvrtc-arch-dropped"}
        assert reasons & set(blocking(envelope))
        assert set(blocking(envelope)) <= reasons | {"needed-library-lacks-kernels"}


def test_table_covers_gpus_yaml() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    rows = yaml.safe_load((root / "matrices" / "gpus.yaml").read_text(encoding="utf-8"))["gpus"]
    assert {row["compute_capability"] for row in rows} == set(GPUS)


# -- the reproductions ---------------------------------------------------------------------

def test_turing_t4_on_2_14_1(runtimes, capsys, monkeypatch) -> None:
    """Issue 24.7: libtorch_cuda_linalg starts at sm_80, but GPT-SoVITS never runs torch.linalg on the GPU:
    information (exit 0), not a warning on every launch (issue 11 expected exit 1 here; 24 says that was noise)."""
    envelope = check(runtimes["2.14.1+cu130"], "Tesla T4@7.5", DRIVER, capsys, monkeypatch)
    codes = {f["code"]: f for f in envelope["findings"]}
    assert envelope["exit_code"] == 0 and "kernels-native" in codes
    linalg = codes["library-lacks-kernels"]
    assert linalg["severity"] == "ok" and "libtorch_cuda_linalg.so" in linalg["title"]
    assert "torch.linalg" in linalg["detail"]
    # an OK row carries no fix (issue 24.7), in the envelope as in every renderer fed from it
    assert all(f["fix"] == "" for f in envelope["findings"] if f["severity"] == "ok")
    assert codes["kernels-native"]["fix"] == "" and linalg["fix"] == ""


def test_ok_rows_have_no_fix_column_text(runtimes, capsys, monkeypatch) -> None:
    """The terminal table: the OK rows' Fix cell is empty (issue 24.7)."""
    monkeypatch.setenv("ENVDOCTOR_GPUS", "Tesla T4@7.5")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", DRIVER)
    monkeypatch.setenv("COLUMNS", "400")
    code = main(["check", "--root", str(runtimes["2.14.1+cu130"]), "--no-live", "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 0
    from envdoctor.i18n import message
    for key in ("finding.library-lacks-kernels.fix", "finding.kernels-native.fix"):
        text = message("en", key)
        assert not text or text[:30] not in out, f"an OK row shows its fix: {text!r}"


def test_gtx_1080_on_cu130_still_fails(runtimes, capsys, monkeypatch) -> None:
    envelope = check(runtimes["2.14.1+cu130"], "NVIDIA GeForce GTX 1080@6.1", DRIVER, capsys, monkeypatch)
    assert envelope["exit_code"] == 2 and "no-kernels-for-gpu" in blocking(envelope)
    dropped = next(f for f in envelope["findings"] if f["code"] == "nvrtc-arch-dropped")
    assert "CUDA 13.0 dropped sm_61" in dropped["detail"] and "12.9" in dropped["detail"]


WINDOWS_CU129 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # torch.yaml 2.8 cu129 windows


def windows_bundle(root: Path, lib: str = "Lib") -> Path:
    """A GPT-SoVITS Windows bundle with torch 2.8.0+cu129 whose torch\\lib holds cufft64_11.dll.

    cufft64_11.dll: the corpus skeleton of the real 11.4.1.4 DLL (a one-entry sm_52 stub registered,
    its kernels in .data containers); without the corpus, hand-built headers of that shape.
    torch_cuda.dll: hand-built headers with the cu129 Windows arch list (the corpus has no Windows torch).
    """
    runtime = root / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "python.exe").write_bytes(b"MZ")
    (runtime / "python311.dll").write_bytes(b"MZ")
    site = runtime / lib / "site-packages"
    write_torch_files(site, "2.8.0+cu129", "12.9")
    write_pe(site / "torch" / "lib" / "torch_cuda.dll", WINDOWS_CU129)
    library("cufft-cu12-11.4.1.4-windows", site / "torch" / "lib", "cufft64_11.dll", ["sm_52"],
            ["sm_52", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"], windows=True)
    return root


@pytest.mark.parametrize("gpu", ["NVIDIA GeForce RTX 4060@8.9", "NVIDIA GeForce RTX 5060 Ti@12.0"])
def test_windows_cu129_bundle_with_cufft(tmp_path: Path, capsys, monkeypatch, gpu: str) -> None:
    envelope = check(windows_bundle(tmp_path), gpu, "576.02@12.9", capsys, monkeypatch)
    assert envelope["exit_code"] in (0, 1), blocking(envelope)
    codes = {f["code"] for f in envelope["findings"]}
    assert "kernels-native" in codes and "no-kernels-for-gpu" not in codes
    # cuFFT: either its embedded kernels were read (nothing to say), or the check says it could not see them
    cufft = [f for f in envelope["findings"] if f["params"].get("binary") == "cufft64_11.dll"]
    assert all(f["code"] == "library-kernels-unseen" and f["severity"] == "warning" for f in cufft)


def test_lower_case_lib_bundle(tmp_path: Path, capsys, monkeypatch) -> None:
    envelope = check(windows_bundle(tmp_path, lib="lib"), "NVIDIA GeForce RTX 4060@8.9", "576.02@12.9", capsys,
                     monkeypatch)
    assert envelope["exit_code"] in (0, 1)
    assert "torch-not-installed" not in {f["code"] for f in envelope["findings"]}


def test_runtimes_are_made_of_the_corpus(runtimes) -> None:
    """Where the corpus holds a library, the table reads the real file's skeleton, not hand-made headers."""
    for build, root in runtimes.items():
        identifier = "torch-" + build.replace("+", "-") + "-linux-libtorch_cuda"
        lib = next(root.glob("runtime/lib/python3.11/site-packages/torch/lib/libtorch_cuda.so"))
        if corpus_library(identifier, root / "probe", "x.so") is not None:
            assert lib.stat().st_size > 100 * 1024 * 1024, f"{build}: {lib} is not the corpus skeleton"
