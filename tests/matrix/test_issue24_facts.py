"""Matrix facts issue 24 found wrong or missing, each against its source (cited in the YAML rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.matrix.loader import load_matrix
from envdoctor.model import arch_name

MEASUREMENTS = Path(__file__).resolve().parents[2] / "matrices" / "measurements"


@pytest.fixture(scope="module")
def matrix():
    return load_matrix()


@pytest.mark.parametrize("name, cc, verified", [
    ("NVIDIA RTX A1000 6GB Laptop GPU", (8, 6), False),  # GA107; was 8.0 through the A100 pattern
    ("NVIDIA RTX A500 Laptop GPU", (8, 6), False),
    ("NVIDIA GeForce MX570", (8, 6), False),
    ("NVIDIA GeForce MX130", (5, 0), False),  # Maxwell GM108; was 6.1 through the Pascal MX pattern
    ("NVIDIA GeForce MX110", (5, 0), False),
    ("NVIDIA RTX PRO 500 Blackwell Generation Laptop GPU", (12, 0), False),  # matched nothing before
    ("NVIDIA H20", (9, 0), True),  # NVIDIA's MIG supported-GPU table
    ("NVIDIA A100-SXM4-80GB", (8, 0), True),  # still the A100
    ("NVIDIA GeForce MX150", (6, 1), True),
    ("NVIDIA GeForce MX450", (7, 5), False),
])
def test_gpu_names(matrix, name, cc, verified) -> None:
    model = matrix.gpu_capability(name)
    assert model is not None and model.compute_capability == cc
    assert matrix.fact_status("gpus.yaml", f"gpus[{model.match}]").verified is verified


def test_h20_row_cites_the_mig_table(matrix) -> None:
    model = matrix.gpu_capability("NVIDIA H20")
    status = matrix.fact_status("gpus.yaml", f"gpus[{model.match}]")
    assert "mig-user-guide/supported-gpus" in status.url


@pytest.mark.parametrize("version, has_107", [("13.3", False), ("13.4", True), ("13.5", True)])
def test_cuda_13_3_to_13_5_nvrtc_archs_are_measured(matrix, version, has_107) -> None:
    toolkit = matrix.toolkit(version)
    record = json.loads((MEASUREMENTS / f"nvrtc-{version}.json").read_text(encoding="utf-8"))
    assert list(toolkit.sass_archs) == record["supported_archs"]
    assert ("sm_107" in toolkit.sass_archs) is has_107
    assert matrix.fact_status("cuda.yaml", f"toolkits[{version}].sass_archs").verified
    # the driver minimum of these rows was not read: it must not pose as NVIDIA's
    assert not matrix.fact_status("cuda.yaml", f"toolkits[{version}].min_driver").verified


def test_sm_107_first_compiles_with_nvrtc_13_4(matrix) -> None:
    assert [t.version for t in matrix.toolkits_for_arch((10, 7))][0] == "13.4"
    assert arch_name((10, 7)) == "sm_107"


def test_r580_end_of_life_and_source(matrix) -> None:
    branch = next(b for b in matrix.driver_branches if b.last_branch == "580")
    status = matrix.fact_status("cuda.yaml", "driver_branches[R580]")
    assert status.verified and "cuda-toolkit-driver-and-architecture-matrix" in status.url
    text = (Path(__file__).resolve().parents[2] / "matrices" / "cuda.yaml").read_text(encoding="utf-8")
    r580 = text[text.index('- last_branch: "580"'):]
    assert "June 2028" in r580 and "EOL August 2028" not in r580
    assert (6, 2) not in branch.compute_capabilities  # Jetson follows JetPack, not the data-centre matrix


def _archs(matrix, series: str, variant: str, platform: str):
    return matrix.series_of(series).variant(variant).archs[platform]


def test_torch_2_7_cu128_windows_keeps_maxwell_to_volta(matrix) -> None:
    archs = _archs(matrix, "2.7", "cu128", "windows")
    assert list(archs.sass) == ["sm_50", "sm_60", "sm_61", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90",
                                "sm_100", "sm_120"]
    assert list(archs.ptx) == []


def test_torch_2_8_cu126_windows_starts_at_sm_61_and_is_not_claimed_verified(matrix) -> None:
    archs = _archs(matrix, "2.8", "cu126", "windows")
    assert list(archs.sass)[0] == "sm_61" and "sm_50" not in archs.sass
    assert list(_archs(matrix, "2.8", "cu126", "linux").sass)[0] == "sm_50"
    assert not matrix.fact_status("torch.yaml", "series[2.8].variants[cu126]").verified
    assert "sm_70" not in _archs(matrix, "2.8", "cu129", "windows").sass
    assert not matrix.fact_status("torch.yaml", "series[2.8].variants[cu129]").verified
