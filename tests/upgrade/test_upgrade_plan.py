"""The plan is a pure function of facts + matrix: no network, no files beyond the test matrix."""

from __future__ import annotations

import os

import pytest
import upgrade_helpers as h

from envdoctor.matrix.loader import load_matrix
from envdoctor.upgrade.plan import (
    DRIVER_TOO_OLD,
    NO_CANDIDATE,
    NO_GPU,
    UP_TO_DATE,
    UPGRADE,
    PlanFacts,
    PlanGpu,
    PlanOptions,
    make_plan,
)

BLACKWELL = PlanGpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0))
ADA = PlanGpu(1, "NVIDIA GeForce RTX 4090", (8, 9))
INSTALLED = (("torch", "2.6.0+cu124"), ("torchaudio", "2.6.0+cu124"), ("numpy", "1.26.4"), ("gradio", "4.44.0"))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    return load_matrix(h.write_matrix(str(tmp_path_factory.mktemp("m"))))


def facts(gpus=(BLACKWELL,), driver="576.02", python="3.11.9", installed=INSTALLED, native=False, platform="linux"):
    return PlanFacts(platform, python, tuple(gpus), driver, installed, native)


def test_blackwell_gets_the_known_good_cu128_build(matrix):
    plan = make_plan(facts(), matrix)
    assert plan.status == UPGRADE
    assert plan.target.requirements() == ("torch==2.7.0+cu128", "torchaudio==2.7.0+cu128")
    assert plan.target.known_good and plan.target.min_driver == "570.26"
    assert plan.index_url == "https://download.pytorch.org/whl/cu128"
    assert plan.constraints == ("numpy<2",)
    assert "numpy==1.26.4" in plan.kept and not any(k.startswith("torch") for k in plan.kept)


def test_smallest_change_without_known_good(matrix, tmp_path):
    m = load_matrix(h.write_matrix(str(tmp_path), {"gptsovits.yaml": "schema_version: 1\n"}))
    plan = make_plan(facts(), m)
    # 2.7 cu128 is the nearest release with sm_120; cu128 before cu129 (asks less of the driver)
    assert plan.target.torch == "2.7.0+cu128"


def test_ada_only_machine_is_up_to_date_when_check_says_native(matrix):
    assert make_plan(facts(gpus=(ADA,), native=True), matrix).status == UP_TO_DATE


def test_mixed_gpus_need_native_kernels_for_each(matrix):
    plan = make_plan(facts(gpus=(BLACKWELL, ADA)), matrix)
    assert plan.status == UPGRADE and plan.target.variant == "cu128"


def test_driver_too_old_names_the_driver(matrix):
    plan = make_plan(facts(driver="560.94"), matrix)
    assert plan.status == DRIVER_TOO_OLD and plan.target is None
    assert plan.driver_needed == "570.26"
    windows = make_plan(facts(driver="560.94", platform="windows"), matrix)
    assert windows.driver_needed == "570.65"


def test_no_driver_at_all_is_driver_too_old(matrix):
    assert make_plan(facts(driver=None), matrix).status == DRIVER_TOO_OLD


def test_python_outside_every_series(matrix):
    assert make_plan(facts(python="3.14.0"), matrix).status == NO_CANDIDATE


def test_no_gpu(matrix):
    assert make_plan(facts(gpus=()), matrix).status == NO_GPU


def test_torchvision_present_is_upgraded_with_its_pair(matrix):
    installed = INSTALLED + (("torchvision", "0.21.0+cu124"),)
    plan = make_plan(facts(installed=installed), matrix)
    assert plan.target.torchvision == "0.22.0+cu128"


def test_override_that_the_matrix_disagrees_with_warns(matrix):
    plan = make_plan(facts(), matrix, PlanOptions(torch="2.7.0", variant="cu126"))
    assert plan.status == UPGRADE and plan.target.torch == "2.7.0+cu126"
    assert [n.key for n in plan.notes] == ["override_not_native"]
    plan = make_plan(facts(driver="560.94"), matrix, PlanOptions(variant="cu129"))
    assert plan.target.torch == "2.8.0+cu129"
    # a build the driver cannot start is refused unless --force, naming the driver to install
    assert [b.key for b in plan.blockers] == ["override_driver"] and not plan.runnable
    assert plan.blockers[0].params["driver"] == "575.51.03"
    forced = make_plan(facts(driver="560.94"), matrix, PlanOptions(variant="cu129", force=True))
    assert "override_driver" in [n.key for n in forced.notes] and forced.runnable


def test_override_unknown_to_the_matrix(matrix):
    plan = make_plan(facts(), matrix, PlanOptions(torch="2.9.1", variant="cu130"))
    assert plan.target.torch == "2.9.1+cu130"
    assert [n.key for n in plan.notes] == ["matrix_unknown"]


def test_user_index_and_wheelhouse_replace_the_matrix_index(matrix):
    assert make_plan(facts(), matrix, PlanOptions(index_url="https://mirror.example/whl/cu128")).index_url == \
        "https://mirror.example/whl/cu128"
    plan = make_plan(facts(), matrix, PlanOptions(wheelhouse="/w"))
    assert plan.index_url is None and plan.wheelhouse == "/w"


def test_real_matrix_if_present():
    """Once the real matrix lands, the memo's machine must get an sm_120 build from it."""
    real = os.path.join(os.path.dirname(h.__file__), "..", "..", "matrices", "torch.yaml")
    if not os.path.exists(real):
        pytest.skip("matrices/torch.yaml has not landed on this branch")
    plan = make_plan(facts(), load_matrix())
    assert plan.status in (UPGRADE, DRIVER_TOO_OLD)


def test_avoided_series_is_used_only_when_nothing_else_fits(tmp_path):
    gsv = ('schema_version: 1\navoid:\n  - {series: "2.7", reason: "test: audio I/O moved", source: test}\n')
    m = load_matrix(h.write_matrix(str(tmp_path / "a"), {"gptsovits.yaml": gsv}))
    assert make_plan(facts(), m).target.torch == "2.8.0+cu128"
    gsv2 = gsv + '  - {series: "2.8", reason: "test", source: test}\n'
    m2 = load_matrix(h.write_matrix(str(tmp_path / "b"), {"gptsovits.yaml": gsv2}))
    plan = make_plan(facts(), m2)
    assert plan.target.torch == "2.7.0+cu128"
    assert "avoided_series" in [n.key for n in plan.notes]


def test_imports_come_from_the_matrix(matrix):
    assert make_plan(facts(), matrix).imports == ("torch", "torchaudio")


def test_torch_without_torchaudio_is_blocked_and_names_the_newest_with_one(matrix):
    plan = make_plan(facts(driver="580.95"), matrix, PlanOptions(torch="2.14.1"))
    assert plan.target is not None and plan.target.torchaudio is None
    blocker = next(b for b in plan.blockers if b.key == "no_torchaudio")
    assert blocker.params["newest"] == "2.8.0"


def test_an_older_torch_on_purpose_says_so_and_why(matrix):
    """2.8 (cu128) needs driver 570; with 560 and torch 2.9 installed the plan goes back and says why."""
    plan = make_plan(facts(driver="570.26", installed=(("torch", "2.9.0+cu126"), ("torchaudio", "2.9.0+cu126"))),
                     matrix)
    assert plan.target is not None
    assert plan.notes and plan.notes[0].key.startswith("older_on_purpose")


def test_driver_rule_blocks_only_below_the_cuda_majors_floor(tmp_path):
    """Above the CUDA 12 floor (minor-version compatibility) but below the toolkit's own minimum: a
    warning, not a refusal (no false blocker); below the floor: refused unless --force."""
    with open(os.path.join(h.MATRIX_DIR, "cuda.yaml"), encoding="utf-8") as handle:
        cuda = handle.read()
    cuda += ('minor_version_compat:\n'
             '  - {major: 12, min_driver: {linux: "525.60.13", windows: "527.41"}, note: test, source: test}\n')
    m = load_matrix(h.write_matrix(str(tmp_path / "m"), {"cuda.yaml": cuda}))
    plan = make_plan(facts(driver="560.94"), m, PlanOptions(variant="cu129"))
    assert plan.runnable and "override_driver" in [n.key for n in plan.notes]
    plan = make_plan(facts(driver="470.10"), m, PlanOptions(variant="cu129"))
    assert [b.key for b in plan.blockers] == ["override_driver"] and plan.blockers[0].params["driver"] == "525.60.13"
