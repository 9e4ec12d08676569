"""`envdoctor check` end to end on real venvs whose torch is a stand-in with real metadata.

One runtime per torch variant (cu118, cu124, cu126, cu128, cpu); the GPU and driver come from the
ENVDOCTOR_GPUS / ENVDOCTOR_DRIVER override; the stand-in torch reports the arch list the matrix
records for its build, so the live probe and the matrix agree and the verdict is the rules' alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import pytest

from envdoctor.cli.main import main
from envdoctor.matrix.loader import load_matrix
from tests.support.fake_torch import FakeTorch, make_runtime

REPO = Path(__file__).resolve().parents[2]
BUILDS = {
    "cu118": ("2.3.1+cu118", "11.8"),
    "cu124": ("2.6.0+cu124", "12.4"),
    "cu126": ("2.7.1+cu126", "12.6"),
    "cu128": ("2.7.1+cu128", "12.8"),
    "cpu": ("2.6.0+cpu", None),
}
GPUS = {
    "6.1": "NVIDIA GeForce GTX 1080 Ti@6.1",
    "7.5": "NVIDIA GeForce RTX 2080@7.5",
    "8.6": "NVIDIA GeForce RTX 3060@8.6",
    "8.9": "NVIDIA GeForce RTX 4060 Ti@8.9",
    "9.0": "NVIDIA H100 80GB HBM3@9.0",
    "12.0": "NVIDIA GeForce RTX 5060 Ti@12.0",
}
NEW_DRIVER = "580.65.06@13.0"


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    matrix = load_matrix(str(REPO / "matrices"))
    roots = {}
    for variant, (version, cuda) in BUILDS.items():
        root = tmp_path_factory.mktemp(variant)
        archs = []
        if cuda:
            arch_set = matrix.series_of(version).variant(variant).archs["linux"]
            archs = list(arch_set.sass) + [a.replace("sm_", "compute_") for a in arch_set.ptx]
        audio = version
        make_runtime(root / "runtime", FakeTorch(version=version, cuda=cuda, arch_list=archs, torchaudio=audio))
        roots[variant] = root
    return roots


def run_check(root: Path, gpu: str, driver: str, capsys: pytest.CaptureFixture, monkeypatch) -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", driver)
    code = main(["check", "--root", str(root), "--json", "--no-scan"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    envelope["codes"] = {f["code"] for f in envelope["findings"]}
    return envelope


# (variant, GPU capability, driver, expected exit code, codes that must be present)
CASES = [
    ("cu118", "8.6", NEW_DRIVER, 0, {"kernels-native", "driver-ok"}),
    ("cu118", "8.9", NEW_DRIVER, 0, {"kernels-native"}),  # sm_86 SASS runs on 8.9
    ("cu118", "12.0", NEW_DRIVER, 2, {"nvrtc-too-old"}),
    ("cu124", "6.1", NEW_DRIVER, 0, {"kernels-native"}),  # sm_60 SASS runs on 6.1
    ("cu124", "7.5", NEW_DRIVER, 0, {"kernels-native"}),
    ("cu124", "9.0", NEW_DRIVER, 0, {"kernels-native"}),
    ("cu124", "12.0", NEW_DRIVER, 2, {"nvrtc-too-old"}),  # the memo's machine
    ("cu126", "8.9", NEW_DRIVER, 0, {"kernels-native"}),
    ("cu126", "12.0", NEW_DRIVER, 2, {"nvrtc-too-old"}),
    ("cu128", "12.0", NEW_DRIVER, 0, {"kernels-native", "driver-ok"}),  # the fix
    ("cu128", "9.0", NEW_DRIVER, 0, {"kernels-native"}),
    ("cu128", "6.1", NEW_DRIVER, 2, {"no-kernels-for-gpu"}),  # 2.7 cu128 dropped Pascal
    ("cpu", "8.6", NEW_DRIVER, 1, {"cpu-only-torch"}),
    ("cpu", "12.0", NEW_DRIVER, 1, {"cpu-only-torch"}),
    # Drivers: too old for any CUDA 11.8+ build; minor-version compatibility; Windows minimum.
    ("cu124", "8.6", "470.82.01@11.4", 2, {"driver-too-old"}),  # below the 12.x floor (525.60.13)
    ("cu118", "8.6", "470.82.01@11.4", 1, {"driver-minor-compat"}),  # 11.x runs on R450+
    ("cu128", "8.6", "550.54.14@12.4", 1, {"driver-minor-compat"}),
    ("cu124", "8.6", "551.61@12.4", 0, {"driver-ok"}),
]


@pytest.mark.parametrize(("variant", "cc", "driver", "exit_code", "codes"), CASES,
                         ids=[f"{c[0]}-sm{c[1]}-{c[2].split('@')[0]}-{c[3]}" for c in CASES])
def test_check_verdicts(runtimes, variant, cc, driver, exit_code, codes, capsys, monkeypatch) -> None:
    envelope = run_check(runtimes[variant], GPUS[cc], driver, capsys, monkeypatch)
    assert envelope["exit_code"] == exit_code, envelope["codes"]
    assert codes <= envelope["codes"]
    assert envelope["gpus"][0]["compute_capability"] == cc


def test_memo_machine_predicts_both_failures(runtimes, capsys, monkeypatch) -> None:
    envelope = run_check(runtimes["cu124"], GPUS["12.0"], "576.02@12.9", capsys, monkeypatch)
    assert envelope["verdict"] == "will-fail"
    # Without native sm_120 code either nothing runs at all, or (with PTX) FP16 attention aborts.
    assert envelope["codes"] & {"no-kernels-for-gpu", "fp16-attention-abort-risk"}
    assert "nvrtc-too-old" in envelope["codes"]


def test_multi_gpu_gets_a_verdict_per_gpu(runtimes, capsys, monkeypatch) -> None:
    both = f"{GPUS['12.0']};{GPUS['8.6']}"
    envelope = run_check(runtimes["cu124"], both, NEW_DRIVER, capsys, monkeypatch)
    verdicts = {g["index"]: g["verdict"] for g in envelope["gpus"]}
    assert verdicts == {0: "will-fail", 1: "ready"}
    monkeypatch.setenv("ENVDOCTOR_GPUS", both)
    assert main(["check", "--root", str(runtimes["cu124"]), "--gpu", "1", "--json", "--no-scan"]) == 0


def test_no_gpu_is_a_warning_not_a_crash(runtimes, capsys, monkeypatch) -> None:
    envelope = run_check(runtimes["cu124"], "none", "none", capsys, monkeypatch)
    assert envelope["exit_code"] == 1 and "no-nvidia-gpu" in envelope["codes"]


def test_torchaudio_mismatch_and_unknown_builds(tmp_path, capsys, monkeypatch) -> None:
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4", torchaudio="2.5.1+cu121",
                                                 arch_list=["sm_86"]))
    envelope = run_check(tmp_path, GPUS["8.6"], NEW_DRIVER, capsys, monkeypatch)
    assert "torchaudio-mismatch" in envelope["codes"]


FATBIN = REPO / "tests" / "fixtures" / "fatbin"


def test_kernels_inside_torch_lib_decide_and_disagreement_is_reported(tmp_path, capsys, monkeypatch) -> None:
    """torch/lib holds a real nvcc-built library with sm_75 SASS only, while torch *claims* sm_120:
    the scan is what the GPU loads, so the verdict follows it and the disagreement is a finding."""
    import shutil

    from tests.support.fake_torch import site_packages

    make_runtime(tmp_path / "runtime", FakeTorch(version="2.7.1+cu128", cuda="12.8",
                                                 arch_list=["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]))
    lib = site_packages(tmp_path / "runtime") / "torch" / "lib"
    shutil.copy(FATBIN / "sm75.so", lib / "libtorch_cuda.so")
    monkeypatch.setenv("ENVDOCTOR_GPUS", GPUS["12.0"])
    monkeypatch.setenv("ENVDOCTOR_DRIVER", NEW_DRIVER)
    assert main(["check", "--root", str(tmp_path), "--json"]) == 2
    envelope = json.loads(capsys.readouterr().out)
    codes = {f["code"]: f for f in envelope["findings"]}
    assert codes["no-kernels-for-gpu"]["params"]["source"] == "scan"
    assert "libtorch_cuda.so" in codes["no-kernels-for-gpu"]["params"]["lacking"]
    assert "scan=none" in codes["arch-sources-disagree"]["params"]["sources"]
    # Replace the library with one that carries sm_120 family SASS: the cached scan must not answer.
    shutil.copy(FATBIN / "family.so", lib / "libtorch_cuda.so")
    assert main(["check", "--root", str(tmp_path), "--json"]) == 0
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["gpus"][0]["coverage"] == "native"


def test_configured_workarounds_turn_the_memo_failures_into_warnings(tmp_path, capsys, monkeypatch) -> None:
    """The launcher's check must not stop a WebUI that `configure` has made runnable (FP16 off,
    speaker verification on the CPU), and must block again once that is reverted."""
    from envdoctor.demo import SCENARIOS, write_bundle
    from tests.gptsovits.trees import make_tree

    root = make_tree(tmp_path / "gsv", "v2pro-2025")
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])  # the bundle's runtime: Windows torch cu118
    monkeypatch.setenv("ENVDOCTOR_GPUS", GPUS["12.0"])
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")

    def check() -> dict:
        code = main(["check", "--root", str(root), "--json"])
        envelope = json.loads(capsys.readouterr().out)
        return {"exit": code, "codes": {f["code"] for f in envelope["findings"]}}

    before = check()
    assert before["exit"] == 2 and {"fp16-attention-abort-risk", "nvrtc-too-old"} <= before["codes"]
    assert main(["configure", "--root", str(root), "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0",
                 "--yes"]) == 0
    capsys.readouterr()
    after = check()
    assert after["exit"] == 1, after
    assert {"fp16-attention-abort-avoided", "nvrtc-too-old-avoided"} <= after["codes"]
    assert not after["codes"] & {"fp16-attention-abort-risk", "nvrtc-too-old"}
    assert main(["configure", "--root", str(root), "--revert"]) == 0
    capsys.readouterr()
    assert check()["exit"] == 2


def test_a_cuda_toolkit_the_matrix_does_not_know_is_said_once(tmp_path: Path, capsys, monkeypatch) -> None:
    """torch built with a CUDA the matrix has never seen: the build is unknown (once) and so is its
    driver minimum; a warning, not a blocker."""
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.99.0+cu199", cuda="19.9", torchaudio="2.99.0+cu199"))
    envelope = run_check(tmp_path, GPUS["8.6"], NEW_DRIVER, capsys, monkeypatch)
    codes = [f["code"] for f in envelope["findings"]]
    assert codes.count("torch-build-unknown") == 1
    assert "driver-unknown-minimum" in codes and envelope["exit_code"] == 1
