"""Issue 24.6: `upgrade` never plans a build that `check` then calls "will fail".

For every GPU row of matrices/gpus.yaml (its first example name and capability), every driver the
matrix names (each toolkit's minimum, each CUDA major's floor, and one just below each) and each
platform with arch lists (Linux x86_64, Windows, Linux aarch64 where the GPU is an ARM system's), the
plan is made from the real matrix; where it has a target, check's rules judge a runtime holding that
target (torch and torchaudio as the plan names them, kernels from the matrix's arch list, as
`check --no-scan` sees it). The verdict must not be will-fail. Pure: no files, no processes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

from envdoctor.diagnose.engine import diagnose, overall_verdict
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import Distribution, Driver, Facts, Gpu, GpuFacts, Runtime, TorchBuild, Verdict
from envdoctor.upgrade.plan import UPGRADE, PlanFacts, PlanGpu, make_plan

REPO = Path(__file__).resolve().parents[2]
SITE = "/r/lib/python3.11/site-packages"
# GPUs that only come in ARM systems (Jetson modules, DGX Spark, Grace Hopper/Blackwell superchips)
ARM_ONLY = re.compile(r"GB10|Thor|Jetson|Orin|Xavier|TX2|Nano|GH200|GB200|GB300", re.I)
INSTALLED = (("torch", "2.4.1+cu118"), ("torchaudio", "2.4.1+cu118"), ("numpy", "1.26.4"))


@pytest.fixture(scope="module")
def matrix():
    return load_matrix(str(REPO / "matrices"), cache=None)


def gpu_rows() -> List[Tuple[str, Tuple[int, int], bool]]:
    """(name, capability, arm) for every row of gpus.yaml: arm where the GPU only comes in an ARM system."""
    rows = yaml.safe_load((REPO / "matrices" / "gpus.yaml").read_text(encoding="utf-8"))["gpus"]
    out = []
    for row in rows:
        name = str((row.get("examples") or [row["match"]])[0])
        cc = tuple(int(p) for p in str(row["compute_capability"]).split("."))
        out.append((name, cc, bool(ARM_ONLY.search(name))))
    return out


def drivers(matrix, platform: str) -> List[str]:
    found = set()
    for toolkit in matrix.toolkits:
        found.add(toolkit.min_driver.get(platform))
    for compat in matrix.minor_compat:
        found.add(compat.min_driver.get(platform))
    found.discard(None)
    below = {_just_below(v) for v in found}
    return sorted(found | below | {"580.00", "999.99"})


def _just_below(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    return f"{parts[0] - 1}.99"


def runtime_facts(platform: str, machine: str, gpu: Gpu, driver: str, target) -> Facts:
    runtime = Runtime("/r", "/r/bin/python3", "posix-prefix", platform, "3.11", (SITE,))
    release, _, local = target.torch.partition("+")
    torch = TorchBuild(target.torch, release, local or None, target.cuda, None, None, None, f"{SITE}/torch",
                       machine=machine)
    dists = [Distribution("torch", target.torch)]
    if target.torchaudio:
        dists.append(Distribution("torchaudio", target.torchaudio))
    for name, spec in target.companions:  # what the plan installs beside torch (torchcodec, ctranslate2)
        version = spec.lstrip("=<>~!").replace(".*", ".0").split(",")[0]
        dists.append(Distribution(name, version))
    return Facts(GpuFacts((gpu,), Driver(driver, None, "override")), runtime, torch, tuple(dists),
                 host_platform=platform)


def _cases(matrix) -> List[Tuple[str, str, str, Tuple[int, int], str]]:
    cases = []
    for name, cc, arm in gpu_rows():
        platforms = [("linux", "aarch64")] if arm else [("linux", "x86_64"), ("windows", "x86_64"),
                                                        ("linux", "aarch64")]
        for platform, machine in platforms:
            for driver in drivers(matrix, platform):
                cases.append((platform, machine, name, cc, driver))
    return cases


@pytest.mark.parametrize("python", [pytest.param("3.9.13", marks=pytest.mark.slow),  # the bundles' Pythons
                                    pytest.param("3.10.11", marks=pytest.mark.slow), "3.11.9"])
def test_check_never_fails_on_the_plan_target(matrix, python: str) -> None:
    failures: List[str] = []
    planned = 0
    for platform, machine, name, cc, driver in _cases(matrix):
        facts = PlanFacts(platform, python, (PlanGpu(0, name, cc),), driver, INSTALLED, machine=machine)
        plan = make_plan(facts, matrix)
        if plan.status != UPGRADE or plan.target is None or plan.blockers:
            continue
        planned += 1
        findings = diagnose(runtime_facts(platform, machine, Gpu(0, name, cc, source="override"), driver,
                                          plan.target), matrix)
        if overall_verdict(findings) is Verdict.WILL_FAIL:
            blockers = sorted(f.code for f in findings if f.severity.value == "blocking")
            failures.append(f"{name} ({cc[0]}.{cc[1]}) {platform}/{machine} driver {driver}: "
                            f"{plan.target.torch} -> {blockers}")
    assert planned > 100  # the property is exercised, not vacuous
    assert not failures, f"{len(failures)} plans check blocks:\n" + "\n".join(failures[:40])


@pytest.mark.parametrize("name,cc", [("NVIDIA B300 SXM6 AC", (10, 3)), ("NVIDIA GB10", (12, 1))])
def test_issue_cases_b300_gb10_on_driver_580(matrix, name: str, cc: Tuple[int, int]) -> None:
    """The issue's reproduction: on driver 580 the plan picked cu128, whose NVRTC 12.8 lacks sm_103/sm_121."""
    machine = "aarch64" if name == "NVIDIA GB10" else "x86_64"
    plan = make_plan(PlanFacts("linux", "3.11.9", (PlanGpu(0, name, cc),), "580.65.06", INSTALLED, machine=machine),
                     matrix)
    assert plan.status == UPGRADE and plan.target.variant != "cu128", plan.target
    findings = diagnose(runtime_facts("linux", machine, Gpu(0, name, cc), "580.65.06", plan.target), matrix)
    assert overall_verdict(findings) is not Verdict.WILL_FAIL
