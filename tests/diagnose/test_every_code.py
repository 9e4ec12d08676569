"""Every finding code envdoctor can emit, made by the real code that emits it from hand-built facts.

One case per code: the facts of a machine (no files, no processes), the rule (or doctor step) that
judges them, and the code and severity it must give. The table must cover every declared code: a
rule that gains a code without a case here fails `test_the_table_covers_every_declared_code`.

Blocking cases run on the real matrix with every fact marked verified, so that they show the rule's
own judgement; what an unverified fact does to a blocker is trust's case (`blocker-unverified`).
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from envdoctor.diagnose import engine, trust
from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.rules import (
    ALL_RULES,
    arch_coverage,
    audio_backend,
    cpu_only_torch,
    driver,
    fp16_attention,
    g2pw,
    gpu_choice,
    live_probe,
    no_gpu,
    nvrtc,
    other_binaries,
    python_version,
    torch_installed,
    torchaudio_pair,
)
from envdoctor.doctor import findings as doctor_findings
from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import TEST_NAMES
from envdoctor.i18n import catalogue
from envdoctor.matrix.loader import load_matrix
from envdoctor.matrix.views import Matrix
from envdoctor.model import (
    BinaryCoverageSummary,
    Distribution,
    Driver,
    Facts,
    Finding,
    Gpu,
    GpuFacts,
    LiveProbe,
    ProbeAttempt,
    Runtime,
    Severity,
    TorchBuild,
)

REPO = Path(__file__).resolve().parents[2]
SITE = "/r/lib/python3.11/site-packages"

OK, WARNING, BLOCKING = Severity.OK, Severity.WARNING, Severity.BLOCKING

T4 = Gpu(0, "Tesla T4", (7, 5), source="nvml")
GTX1080 = Gpu(0, "NVIDIA GeForce GTX 1080", (6, 1), source="nvml")
RTX5060 = Gpu(0, "NVIDIA GeForce RTX 5060 Ti", (12, 0), source="nvml")
NEW_DRIVER = Driver("580.65.06", "13.0", "nvml")


def runtime(python: str = "3.11", site: Tuple[str, ...] = (SITE,), platform: str = "linux") -> Runtime:
    return Runtime("/r", "/r/bin/python3", "posix-prefix", platform, python, site)


def torch(version: str, cuda: Optional[str], damage: Optional[str] = None) -> TorchBuild:
    release, _, local = version.partition("+")
    return TorchBuild(version, release, local or None, cuda, None, None, None, f"{SITE}/torch", damage=damage)


def binary(relative: str, sass=(), ptx=(), error: Optional[str] = None) -> BinaryCoverageSummary:
    return BinaryCoverageSummary(f"{SITE}/{relative}", {a: 1 for a in sass}, {a: 1 for a in ptx}, error)


def core(sass=(), ptx=()) -> BinaryCoverageSummary:
    return binary("torch/lib/libtorch_cuda.so", sass, ptx)


def machine(gpus=(RTX5060,), drv: Optional[Driver] = NEW_DRIVER, build: Optional[TorchBuild] = None,
            binaries=(), **more) -> Facts:
    """A Linux machine with torch 2.7.1+cu126 by default (known to the matrix, driver new enough)."""
    build = build if build is not None else torch("2.7.1+cu126", "12.6")
    return Facts(GpuFacts(tuple(gpus), drv), more.pop("rt", runtime()), build, binaries=tuple(binaries), **more)


@dataclass(frozen=True)
class Case:
    run: Callable[[Matrix], List[Finding]]
    severity: Severity


def rule_case(rule, facts: Facts, severity: Severity) -> Case:
    return Case(lambda matrix: rule.evaluate(DiagnosisContext(facts, matrix)), severity)


# config.py's device lines of upstream since 7d70852 (gptsovits.yaml device_selection per-gpu-2025-06b)
CONFIG_2025_06B = ("def get_device_dtype_sm(idx: int) -> tuple[torch.device, torch.dtype, float, float]:",
                   "if mem_gb < 4 or sm_version < 5.3:", "if sm_version == 6.1 or is_16_series == True:")
SECOND_1080 = Gpu(1, "NVIDIA GeForce GTX 1080", (6, 1), memory_total_mib=8192, source="nvml")
SECOND_1080_AT_0 = dataclasses.replace(SECOND_1080, index=0)
RTX5060_AT_1 = dataclasses.replace(RTX5060, index=1)
CUDA_PTX_ONLY = core(sass=("sm_90",), ptx=("sm_90",))  # RTX 5060 (sm_120) JIT-compiles sm_90 PTX
CUDA_NO_KERNELS = core(sass=("sm_90",))

G2PW_B200 = machine(
    gpus=(Gpu(0, "NVIDIA B200", (10, 0), source="nvml"),), build=torch("2.11.0+cu130", "13.0"),
    binaries=(binary("onnxruntime/capi/libonnxruntime_providers_cuda.so", sass=("sm_75", "sm_90a", "sm_120a")),),
    distributions=(Distribution("onnxruntime-gpu", "1.31.1"),))

RULE_CASES: Dict[str, Case] = {
    # no_gpu
    "no-nvidia-gpu": rule_case(no_gpu, machine(gpus=(), drv=None), WARNING),
    "gpu-capability-unknown": rule_case(no_gpu, machine(gpus=(Gpu(0, "Mystery Accelerator", None),)), WARNING),
    "bundle-machine-unknown": rule_case(
        no_gpu, machine(gpus=(), drv=None, rt=runtime(platform="windows"), gpu_origin="unknown"), WARNING),
    # torch_installed
    "torch-not-installed": rule_case(torch_installed, dataclasses.replace(machine(), torch=None), BLOCKING),
    "site-packages-not-found": rule_case(
        torch_installed, dataclasses.replace(machine(rt=runtime(site=())), torch=None), WARNING),
    "torch-damaged": rule_case(torch_installed, machine(build=torch("2.7.1", None, damage="version.py: NUL bytes")),
                               WARNING),
    "torch-build-unknown": rule_case(torch_installed, machine(build=torch("9.9.0+cu999", "99.9")), WARNING),
    # cpu_only_torch
    "cpu-only-torch": rule_case(cpu_only_torch, machine(build=torch("2.7.1+cpu", None)), WARNING),
    # driver (cu126: own minimum 560.28.03 on Linux, CUDA 12's minor-version floor 525.60.13)
    "driver-unknown": rule_case(driver, machine(drv=None), WARNING),
    "driver-unknown-minimum": rule_case(driver, machine(build=torch("9.9.0+cu999", "99.9")), WARNING),
    "driver-ok": rule_case(driver, machine(), OK),
    "driver-minor-compat": rule_case(driver, machine(drv=Driver("535.54.03", "12.2")), WARNING),
    "driver-too-old": rule_case(driver, machine(drv=Driver("470.42.01", "11.4")), BLOCKING),
    # arch_coverage (the scan of torch's core library speaks first)
    "kernels-native": rule_case(arch_coverage, machine(gpus=(T4,), binaries=(core(sass=("sm_75", "sm_80")),)), OK),
    "ptx-jit-only": rule_case(arch_coverage, machine(binaries=(CUDA_PTX_ONLY,)), WARNING),
    "no-kernels-for-gpu": rule_case(arch_coverage, machine(binaries=(CUDA_NO_KERNELS,)), BLOCKING),
    "arch-sources-disagree": rule_case(
        arch_coverage,
        machine(binaries=(CUDA_NO_KERNELS,), live=LiveProbe("ok", "2.7.1+cu126", "12.6", True, ("sm_90", "sm_120"))),
        WARNING),
    "coverage-unknown": rule_case(arch_coverage, machine(build=torch("9.9.0+cu999", "99.9")), WARNING),
    # nvrtc: CUDA 12.6's NVRTC knows no sm_120 (12.8 does); CUDA 13.0 dropped sm_61
    "nvrtc-too-old": rule_case(nvrtc, machine(), BLOCKING),
    "nvrtc-too-old-avoided": rule_case(nvrtc, machine(workarounds={"nvrtc-too-old": "sv_device=cpu"}), WARNING),
    "nvrtc-arch-dropped": rule_case(nvrtc, machine(gpus=(GTX1080,), build=torch("2.9.0+cu130", "13.0")), BLOCKING),
    # fp16_attention: a PTX-only build on an sm_80+ GPU
    "fp16-attention-abort-risk": rule_case(fp16_attention, machine(binaries=(CUDA_PTX_ONLY,)), BLOCKING),
    "fp16-attention-abort-avoided": rule_case(
        fp16_attention,
        machine(binaries=(CUDA_PTX_ONLY,), workarounds={"fp16-attention-abort-risk": "is_half=False"}), WARNING),
    # other_binaries, by the role binaries.yaml gives each file
    "binary-unreadable": rule_case(
        other_binaries, machine(binaries=(binary("torch/lib/libbroken.so", error="truncated"),)), WARNING),
    "binary-ptx-jit-only": rule_case(  # linalg: GPT-SoVITS never calls it, so a line, not a warning
        other_binaries, machine(binaries=(binary("torch/lib/libtorch_cuda_linalg.so", ptx=("sm_90",)),)), OK),
    "extension-lacks-kernels": rule_case(
        other_binaries, machine(binaries=(binary("torchaudio/lib/libtorchaudio.so", sass=("sm_60",)),)), WARNING),
    "binary-lacks-kernels": rule_case(
        other_binaries, machine(binaries=(binary("somepkg/libmystery_kernels.so", sass=("sm_60",)),)), WARNING),
    "library-kernels-unseen": rule_case(  # cuFFT keeps its kernels outside the registered fat binary
        other_binaries, machine(binaries=(binary("nvidia/cufft/lib/libcufft.so.11", sass=("sm_60",)),)), WARNING),
    "needed-library-lacks-kernels": rule_case(
        other_binaries, machine(binaries=(binary("nvidia/cublas/lib/libcublas.so.12", sass=("sm_60",)),)), BLOCKING),
    "library-lacks-kernels": rule_case(  # cuSOLVER: GPT-SoVITS never calls it on the GPU, so a line (issue 24.7)
        other_binaries, machine(binaries=(binary("nvidia/cusolver/lib/libcusolver.so.11", sass=("sm_60",)),)),
        OK),
    # live_probe: what the runtime's own interpreter said
    "live-skipped": rule_case(live_probe, machine(live=LiveProbe("skipped", error="--no-live")), OK),
    "live-timeout": rule_case(live_probe, machine(live=LiveProbe("timeout", duration_s=60.2)), WARNING),
    "live-crashed": rule_case(
        live_probe, machine(live=LiveProbe("crashed", error="Segmentation fault (core dumped)")), BLOCKING),
    "live-import-failed": rule_case(
        live_probe,
        machine(live=LiveProbe("failed", error="Traceback ...\nOSError: [WinError 126] fbgemm.dll")), BLOCKING),
    "live-cuda-unavailable": rule_case(
        live_probe, machine(live=LiveProbe("ok", "2.7.1+cu126", "12.6", False)), WARNING),
    # torchaudio_pair
    "torchaudio-mismatch": rule_case(
        torchaudio_pair, machine(distributions=(Distribution("torchaudio", "2.6.0+cu124"),)), WARNING),
    # gpu_choice: the GPU GPT-SoVITS' config.py picks is the one judged
    "gpu-not-used": rule_case(gpu_choice, machine(gpus=(RTX5060, SECOND_1080), device_config=CONFIG_2025_06B,
                                                  device_env={"CUDA_VISIBLE_DEVICES": "0"}), OK),
    "gpu-other-lacks-kernels": rule_case(
        gpu_choice, machine(gpus=(RTX5060, SECOND_1080), device_config=CONFIG_2025_06B,
                            binaries=(core(sass=("sm_90", "sm_120")),)), WARNING),
    "runs-on-cpu": rule_case(gpu_choice, machine(device_config=CONFIG_2025_06B,
                                                 device_env={"CUDA_VISIBLE_DEVICES": ""}), WARNING),
    "webui-sees-other-gpu": rule_case(  # CUDA_VISIBLE_DEVICES=1: the WebUI's number 0 names GPU 0
        gpu_choice, machine(gpus=(SECOND_1080_AT_0, RTX5060_AT_1), device_config=CONFIG_2025_06B,
                            device_env={"CUDA_VISIBLE_DEVICES": "1"}), OK),
    "webui-gpu0-fp32": rule_case(
        gpu_choice, machine(gpus=(Gpu(0, "NVIDIA GeForce GTX 1050", (6, 1), memory_total_mib=2048),),
                            device_config=CONFIG_2025_06B), OK),
    # g2pw: onnxruntime-gpu 1.31.1 (CUDA 13, no sm_10x kernels) next to a cu130 torch on a B200
    "g2pw-no-kernels": rule_case(g2pw, G2PW_B200, BLOCKING),
    "g2pw-on-cpu": rule_case(g2pw, dataclasses.replace(G2PW_B200, workarounds={"g2pw-no-kernels": "G2PW: cpu"}), OK),
    # audio_backend: torchaudio 2.9+ reads audio only through TorchCodec
    "torchaudio-needs-torchcodec": rule_case(
        audio_backend, machine(distributions=(Distribution("torchaudio", "2.9.0+cu128"),)), BLOCKING),
    # python_version: torch 2.7 ships wheels for 3.9-3.13
    "python-unsupported": rule_case(python_version, machine(rt=runtime(python="3.8")), WARNING),
}


def _unverified_basis(matrix: Matrix) -> List[Finding]:
    """driver-too-old with the fact it rests on (CUDA 12's minor-version floor) unverified."""
    shaky = tuple(dataclasses.replace(f, verified=False) if f.ref == "minor_version_compat[12]" else f
                  for f in matrix.fact_statuses)
    facts = machine(drv=Driver("470.42.01", "11.4"))
    return driver.evaluate(DiagnosisContext(facts, dataclasses.replace(matrix, fact_statuses=shaky)))


def _crashing_rule(matrix: Matrix) -> List[Finding]:
    """Facts without GPU facts at all: the real no_gpu rule raises on them, the engine reports it."""
    return engine.diagnose(Facts(gpu=None), matrix, rules=[no_gpu])  # type: ignore[arg-type]


OTHER_CASES: Dict[str, Case] = {
    "blocker-unverified": Case(_unverified_basis, WARNING),
    "rule-crashed": Case(_crashing_rule, WARNING),
}


# -- doctor: smoke results and check's predictions -----------------------------------------------------

def _smoke(*results: m.SmokeResult) -> Callable[[Matrix], List[Finding]]:
    return lambda matrix: doctor_findings.smoke_findings(machine(), results)


def _disproved(matrix: Matrix) -> List[Finding]:
    predicted = Finding("nvrtc-too-old", BLOCKING, {"gpu": RTX5060.name, "arch": "sm_120"}, ("CUDA 12.6",), 0)
    return doctor_findings.reconcile([predicted], [m.SmokeResult("fft-fp32", 0, m.PASSED, duration_s=0.4)])


def _doctor_cases() -> Dict[str, Case]:
    cases = {
        "smoke-passed": Case(_smoke(m.SmokeResult("cuda", 0, m.PASSED, duration_s=0.2)), OK),
        "prediction-disproved": Case(_disproved, OK),
    }
    for reason in m.SKIP_REASONS:
        cases[f"smoke-skipped-{reason}"] = Case(
            _smoke(m.SmokeResult("sdpa-efficient", 0, m.SKIPPED, reason=reason, error="why it was skipped")), OK)
    for test in TEST_NAMES:
        for status in m.BROKEN_STATUSES:
            severity = WARNING if status == m.TIMEOUT else BLOCKING
            result = m.SmokeResult(test, 0, status, error="RuntimeError: CUDA error: no kernel image", exit="SIGABRT"
                                   if status == m.CRASHED else None, stage="run", duration_s=1.0)
            cases[f"smoke-{test}-{status}"] = Case(_smoke(result), severity)
    return cases


CASES: Dict[str, Case] = {**RULE_CASES, **OTHER_CASES, **_doctor_cases()}


def declared_codes() -> set:
    codes = {code for rule in ALL_RULES for code in rule.CODES}
    return codes | set(trust.CODES) | set(engine.CODES) | set(doctor_findings.CODES)


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    shipped = load_matrix(str(REPO / "matrices"), cache=None)
    return dataclasses.replace(
        shipped, fact_statuses=tuple(dataclasses.replace(f, verified=True) for f in shipped.fact_statuses))


def test_the_table_covers_every_declared_code() -> None:
    declared = declared_codes()
    assert sorted(declared - set(CASES)) == [], "declared codes with no case here"
    assert sorted(set(CASES) - declared) == [], "cases for codes nobody declares"


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_real_code_emits_it(code: str, matrix: Matrix) -> None:
    case = CASES[code]
    emitted = [f for f in case.run(matrix) if f.code == code]
    assert emitted, f"{code} not emitted; got {[f.code for f in case.run(matrix)]}"
    assert {f.severity for f in emitted} == {case.severity}
    for finding in emitted:
        params = dict(finding.params)
        # Each text of the code fills from the finding's own params (no KeyError in front of a user).
        for lang in ("en", "zh_CN"):
            for part in ("title", "detail", "fix"):
                # {cmd} (how the user starts envdoctor) is filled by i18n.message for every text.
                catalogue(lang)[f"finding.{code}.{part}"].format(**params, cmd="envdoctor")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_declared_code_has_its_texts(lang: str) -> None:
    messages = catalogue(lang)
    missing = [f"finding.{code}.{part}" for code in sorted(declared_codes()) for part in ("title", "detail", "fix")
               if f"finding.{code}.{part}" not in messages]
    assert missing == []


def test_unverified_fact_lowers_the_blocker_it_rests_on(matrix: Matrix) -> None:
    lowered, note = _unverified_basis(matrix)
    assert (lowered.code, lowered.severity) == ("driver-too-old", WARNING)
    assert note.params["finding"] == "driver-too-old" and "minor_version_compat[12]" in note.params["fact"]


def test_a_healthy_machine_gets_no_warning(matrix: Matrix) -> None:
    """RTX 5060 Ti, torch 2.7.1+cu128 with sm_120 SASS, a new driver, a live probe that agrees: all quiet."""
    facts = machine(build=torch("2.7.1+cu128", "12.8"), binaries=(core(sass=("sm_90", "sm_120")),),
                    live=LiveProbe("ok", "2.7.1+cu128", "12.8", True, ("sm_90", "sm_120")),
                    distributions=(Distribution("torchaudio", "2.7.1+cu128"),),
                    gpu_origin="host")
    found = engine.diagnose(facts, matrix)
    assert [f.code for f in found if f.severity is not OK] == []
    assert {"driver-ok", "kernels-native"} <= {f.code for f in found}


def test_a_skip_reason_no_catalogue_knows_reads_as_unknown() -> None:
    result = m.SmokeResult("fft-fp32", 0, m.SKIPPED, reason="reason-from-a-newer-script", error="detail")
    (finding,) = doctor_findings.smoke_findings(machine(), [result])
    assert finding.code == "smoke-skipped-unknown"
    assert finding.params["detail"] == "detail"


def test_no_probe_attempts_needed() -> None:
    """no-nvidia-gpu lists what was asked: the attempts travel as evidence."""
    facts = Facts(GpuFacts((), None, (ProbeAttempt("nvml", False, "libnvidia-ml.so.1 not found"),)), runtime())
    (finding,) = no_gpu.evaluate(DiagnosisContext(facts, load_matrix(str(REPO / "matrices"), cache=None)))
    assert finding.evidence == ("nvml: libnvidia-ml.so.1 not found",)


def test_every_skip_reason_the_code_gives_is_declared() -> None:
    """The reasons the smoke scripts pass to skip() and the session returns are in SKIP_REASONS."""
    given = set()
    doctor = REPO / "envdoctor" / "doctor"
    for path in [*sorted((doctor / "scripts").glob("*.py")), doctor / "session.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "skip" and node.args:
                first = node.args[0]
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts:
                first = node.value.elts[0]
            else:
                continue
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                given.add(first.value)
    assert {"no-cuda-build", "no-sdpa", "no-runtime"} <= given  # the scan finds what it looks for
    assert sorted(given - set(m.SKIP_REASONS)) == []
