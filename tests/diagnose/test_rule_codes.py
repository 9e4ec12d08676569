"""Every finding code has one owner: the rule module that declares it in CODES.

Statically: no code is declared by two rules, every code literal a rule writes is one of its own
CODES, and every declared code has English and Chinese messages. Dynamically: over the expected-
verdict table's machines and a few odd ones, each rule emits only codes it declares.
"""

from __future__ import annotations

import ast
import inspect
import itertools
from pathlib import Path

import pytest

from envdoctor.diagnose import engine, trust
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.rules import ALL_RULES
from envdoctor.i18n import catalogue
from envdoctor.matrix.loader import load_matrix
from envdoctor.model import BinaryCoverageSummary, Driver, Facts, Gpu, GpuFacts, Runtime, TorchBuild

REPO = Path(__file__).resolve().parents[2]
# The engine's own (a rule that raised), and trust's: any rule's blocker lowered for an unverified fact.
ENGINE_CODES = set(engine.CODES)
SHARED_CODES = set(trust.CODES)


def rule_name(rule) -> str:
    return rule.__name__.rsplit(".", 1)[-1]


def test_no_code_is_declared_by_two_rules() -> None:
    owners = {}
    for rule in ALL_RULES:
        for code in rule.CODES:
            assert code not in owners, f"{code} declared by {owners[code]} and {rule_name(rule)}"
            owners[code] = rule_name(rule)
    assert not (ENGINE_CODES | SHARED_CODES) & set(owners)


def test_code_literals_in_a_rule_are_its_own() -> None:
    known = {key.split(".")[1] for key in catalogue("en") if key.startswith("finding.")}
    for rule in ALL_RULES:
        tree = ast.parse(inspect.getsource(rule))
        literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                    and isinstance(node.value, str) and node.value in known}
        assert literals <= set(rule.CODES) | SHARED_CODES, f"{rule_name(rule)} writes codes it does not own: " \
                                            f"{sorted(literals - set(rule.CODES))}"


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_declared_code_has_messages(lang: str) -> None:
    messages = catalogue(lang)
    for rule in [*ALL_RULES, trust]:
        for code in rule.CODES:
            for part in ("title", "detail", "fix"):
                assert f"finding.{code}.{part}" in messages, f"{lang}: finding.{code}.{part}"


def _machines():
    site = "/r/lib/python3.11/site-packages"
    builds = [("2.14.1+cu130", "13.0"), ("2.7.1+cu126", "12.6"), ("9.9.0+cu999", "99.9"), ("2.6.0+cpu", None),
              ("2.11.0+cu130", "13.0")]
    gpus = [(), (Gpu(0, "Tesla T4", (7, 5)),), (Gpu(0, "NVIDIA GeForce GTX 1080", (6, 1)),),
            (Gpu(0, "Mystery", None),), (Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0)),)]
    libs = [(), (BinaryCoverageSummary(f"{site}/torch/lib/libtorch_cuda.so", {"sm_75": 1}, {}),
                 BinaryCoverageSummary(f"{site}/torch/lib/libtorch_cuda_linalg.so", {"sm_80": 1}, {}),
                 BinaryCoverageSummary(f"{site}/nvidia/cu13/lib/libcufft.so.12", {"sm_75": 1}, {}),
                 BinaryCoverageSummary(f"{site}/onnxruntime/capi/x_providers_cuda.so", {}, {"sm_60": 1}),
                 BinaryCoverageSummary(f"{site}/torch/lib/broken.so", {}, {}, "truncated"))]
    drivers = [None, Driver("470.00"), Driver("580.65.06", "13.0")]
    runtime = Runtime("/r", "/r/bin/python3", "posix-prefix", "linux", "3.11", (site,))
    for (version, cuda), gpu, lib, driver in itertools.product(builds, gpus, libs, drivers):
        release, _, local = version.partition("+")
        torch = TorchBuild(version, release, local, cuda, None, None, None, f"{site}/torch")
        yield Facts(GpuFacts(gpu, driver), runtime, torch, binaries=lib)
    yield Facts(GpuFacts((Gpu(0, "Tesla T4", (7, 5)),), Driver("580.65.06")), runtime, None)


def test_each_rule_emits_only_its_codes() -> None:
    matrix = load_matrix(str(REPO / "matrices"), cache=None)
    seen = {}
    for facts in _machines():
        ctx = DiagnosisContext(facts, matrix)
        for rule in ALL_RULES:
            for finding in rule.evaluate(ctx):
                assert finding.code in set(rule.CODES) | SHARED_CODES, f"{rule_name(rule)} emitted {finding.code}"
                if finding.code in SHARED_CODES:
                    continue
                seen.setdefault(finding.code, set()).add(rule_name(rule))
    assert "torch-build-unknown" in seen  # the unknown build of the issue is among the machines
    assert all(len(owners) == 1 for owners in seen.values())


def test_an_unknown_build_is_reported_once() -> None:
    from envdoctor.diagnose.engine import diagnose

    matrix = load_matrix(str(REPO / "matrices"), cache=None)
    site = "/r/lib/python3.11/site-packages"
    runtime = Runtime("/r", "/r/bin/python3", "posix-prefix", "linux", "3.11", (site,))
    torch = TorchBuild("9.9.0+cu999", "9.9.0", "cu999", "99.9", None, None, None, f"{site}/torch")
    facts = Facts(GpuFacts((Gpu(0, "Tesla T4", (7, 5)),), Driver("580.65.06")), runtime, torch)
    codes = [f.code for f in diagnose(facts, matrix)]
    assert codes.count("torch-build-unknown") == 1
