"""The corrected facts of issue 12 and the accessors other modules (upgrade, doctor) call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.matrix.loader import load_matrix

MATRICES = Path(__file__).resolve().parents[2] / "matrices"


@pytest.fixture(scope="module")
def matrix():
    return load_matrix(str(MATRICES), cache=None)


def test_cuda_13_rows_follow_nvidia_table_3(matrix) -> None:
    assert matrix.toolkit("13.0").min_driver == {"linux": "580.65.06", "windows": None}
    assert matrix.toolkit("13.1").min_driver == {"linux": "590.44.01", "windows": None}
    assert matrix.toolkit("13.2").min_driver == {"linux": "595.45.04", "windows": None}
    for version in ("13.0", "13.1", "13.2"):
        toolkit = matrix.toolkit(version)
        assert "sm_88" in toolkit.sass_archs and "sm_110" in toolkit.sass_archs
        assert "sm_101" not in toolkit.sass_archs and "sm_72" not in toolkit.sass_archs
        assert toolkit.verified and toolkit.archs_verified


@pytest.mark.parametrize("cuda, driver, platform, can, required", [
    ("12.8", "576.02", "windows", True, "528.33"),     # minor-version compatibility: the 12.x floor
    ("12.8", "527.00", "windows", False, "528.33"),
    ("13.0", "576.02", "windows", False, "580"),       # the case: a cu130 torch on driver 576.02
    ("13.2", "580.65.06", "linux", True, "580"),       # R580 starts every 13.x runtime
    ("13.2", "575.51.03", "linux", False, "580"),
    ("11.8", "452.39", "windows", True, "452.39"),
])
def test_driver_can_start(matrix, cuda, driver, platform, can, required) -> None:
    assert matrix.driver_can_start(cuda, driver, platform) == (can, required)


def test_driver_can_start_says_unknown_is_not_a_refusal(matrix) -> None:
    assert matrix.driver_can_start("9.0", "300.00", "linux") == (True, None)


def test_r580_is_the_last_branch_for_maxwell_pascal_volta(matrix) -> None:
    for cc in ((5, 0), (5, 2), (6, 1), (7, 0)):
        branch = matrix.newest_driver_branch(cc)
        assert branch is not None and branch.last_branch == "580" and branch.last_torch_variant == "cu126"
    assert matrix.newest_driver_branch((7, 5)) is None
    assert matrix.newest_driver_branch((12, 0)) is None


@pytest.mark.parametrize("name, cc", [
    ("NVIDIA Jetson T5000", (11, 0)),
    ("NVIDIA Jetson T4000", (11, 0)),
    ("NVIDIA T1000", (7, 5)),             # Turing's T-series still matches Turing
    ("NVIDIA GeForce GTX 960M", (5, 0)),
    ("Quadro M2000M", (5, 0)),
    ("Quadro M1200", (5, 0)),
    ("NVIDIA GeForce GTX 960", (5, 2)),
    ("Quadro M5500M", (5, 2)),            # the one 5.2 mobile Quadro
    ("Quadro M2000", (5, 2)),
    ("NVIDIA GeForce GTX 980M", (5, 2)),
    ("NVIDIA GeForce RTX 5060 Ti", (12, 0)),
])
def test_gpu_names_map_to_nvidias_capability(matrix, name, cc) -> None:
    assert matrix.gpu_capability(name).compute_capability == cc


def test_every_gpu_example_resolves_to_its_own_row(matrix) -> None:
    """First match wins, so a row split by source (verified names apart from unverified ones) or a
    broad pattern placed too early would hand a name another row's capability and trust."""
    import yaml

    rows = yaml.safe_load((MATRICES / "gpus.yaml").read_text(encoding="utf-8"))["gpus"]
    for row in rows:
        for example in row["examples"]:
            found = matrix.gpu_capability(example)
            assert found is not None and found.match == row["match"], (example, row["match"])


@pytest.mark.parametrize("name, verified", [
    ("NVIDIA A100-SXM4-80GB", True),              # MIG user guide: A100 GA100 8.0
    ("NVIDIA A30", True),
    ("NVIDIA A800 80GB PCIe", False),             # no NVIDIA table read names it
    ("NVIDIA GeForce RTX 3060 Laptop GPU", True), # CUTLASS: RTX 30x0 series 8.6
    ("NVIDIA GeForce RTX 2050", False),           # GA107 by spec databases only
    ("NVIDIA GeForce RTX 2080 Ti", True),         # CUTLASS: RTX 20x0 series 7.5
    ("Tesla T4", True),
    ("NVIDIA GeForce GTX 1660 SUPER", False),     # Turing, but no NVIDIA capability table read names it
    ("NVIDIA GeForce GTX 750 Ti", True),          # legacy page 5.0 row
    ("Tesla M10", False),
    ("Tesla K80", False),
])
def test_gpu_rows_are_verified_only_where_a_source_names_the_gpu(matrix, name, verified) -> None:
    assert matrix.gpu_capability(name).verified is verified


def test_rtx_3050_a_laptop_gets_no_capability_from_its_name(matrix) -> None:
    # Reported on AD106 (Ada); the RTX 30x0 row must not hand it 8.6 on trust.
    assert matrix.gpu_capability("NVIDIA GeForce RTX 3050 A Laptop GPU") is None
    assert matrix.gpu_capability("NVIDIA GeForce RTX 3050 Laptop GPU").compute_capability == (8, 6)


def test_torchaudio_and_torchcodec_knowledge(matrix) -> None:
    assert matrix.audio_io("2.8.0")["backend"] == "builtin"
    io_29 = matrix.audio_io("2.9.1+cu128")
    assert io_29["backend"] == "torchcodec"
    assert "Could not load libtorchcodec" in io_29["error_signatures"]
    assert matrix.torchaudio_cuda_major("2.11.1") == 13
    assert matrix.torchcodec_for("2.9.0") == ["0.9", "0.8"]
    assert matrix.torchcodec_for("2.12.0") == ["0.12"]
    assert matrix.torchcodec_for("2.7.1")[0] == "0.5"
    # 0.13-0.17: FFmpeg majors measured on the wheels (0.16+ add FFmpeg 9), torch pairing unverified
    assert matrix.torchcodec_for("2.12.0", verified_only=False)[:2] == ["0.17", "0.16"]
    rows = {r["torchcodec"]: r for r in matrix.companions["torchcodec"]}
    assert 9 in rows["0.16"]["ffmpeg_majors"] and 9 not in rows["0.15"]["ffmpeg_majors"]


def test_onnxruntime_gpu_knowledge(matrix) -> None:
    old, new = matrix.onnxruntime_gpu("1.22.0"), matrix.onnxruntime_gpu("1.31.1")
    assert (old["cuda_major"], old["cudnn_major"], old["archs"]["linux"]["ptx"]) == (12, 9, ["sm_90"])
    assert new["cuda_major"] == 13 and new["archs"]["linux"]["ptx"] == []
    assert matrix.onnxruntime_gpu("1.22.1")["version"] == "1.22.0"  # same series


def test_every_fact_has_a_status_and_blocking_rows_are_mostly_verified(matrix) -> None:
    statuses = matrix.fact_statuses
    assert statuses and all(s.kind in ("primary", "measurement", "secondary") for s in statuses)
    assert all(s.verified is False for s in statuses if s.kind == "secondary")
    verified, rows = matrix.verified_share(blocking_only=True)
    # 83 of 100 (December 2026): the aarch64 arch lists, the newest torchcodec pairings and a few GPU
    # names are cited but not yet measured (PyTorch's own index is out of reach here). A floor, not the
    # goal: `envdoctor matrix` lists each unverified blocking row, and only verified rows may block.
    assert rows > 50 and verified / rows >= 0.80


def test_envdoctor_matrix_json(capsys) -> None:
    assert main(["matrix", "--json", "--matrix-dir", str(MATRICES)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["schema"] == "envdoctor.matrix" and summary["matrix_version"]
    assert summary["rows"] == summary["by_kind"].get("primary", 0) + summary["by_kind"].get("measurement", 0) \
        + summary["by_kind"].get("secondary", 0)
    blocking = summary["blocking"]
    assert blocking["verified"] + len(summary["unverified_blocking"]) == blocking["rows"]
    assert summary["sources"] and summary["sources"][0]["url"].startswith("https://")


def test_envdoctor_matrix_text_in_chinese(capsys) -> None:
    assert main(["matrix", "--lang", "zh_CN", "--matrix-dir", str(MATRICES)]) == 0
    out = capsys.readouterr().out
    assert "兼容性矩阵" in out and "可导致阻断的条目中已核实" in out
