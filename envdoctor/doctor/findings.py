"""Smoke results -> findings; and check's predictions reconciled with what the tests proved.

A test that broke gets its own finding `smoke-<test>-<status>` (catalogue text per test and status).
Passed tests and tests skipped for the same reason are summarised in one finding per GPU, so the
table shows what matters. A prediction that a passed test disproves is replaced by
`prediction-disproved`; one that a broken test confirms gets the test as extra evidence.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

from envdoctor.doctor import results as m
from envdoctor.doctor.catalog import ATTENTION_TESTS, BASIC_KERNEL_TESTS, FEATURE_OF, SV_FP32_TESTS, TEST_NAMES
from envdoctor.explain.matcher import first_known_error
from envdoctor.gptsovits.mitigations import FP16_RISK, NVRTC_OLD
from envdoctor.matrix.views import KnownError
from envdoctor.model import (
    Facts,
    Finding,
    Line,
    Severity,
    confirmed_line,
    known_error_line,
    predicted_line,
    smoke_result_line,
)

SMOKE_PASSED = "smoke-passed"
PREDICTION_DISPROVED = "prediction-disproved"


def skipped_code(reason: str) -> str:
    return f"smoke-skipped-{reason}"


def broken_code(test: str, status: str) -> str:
    return f"smoke-{test}-{status}"


# Every code doctor can add to check's: declared, so that a test holds each to a case and to its texts.
CODES: Tuple[str, ...] = (
    SMOKE_PASSED,
    PREDICTION_DISPROVED,
    *(skipped_code(reason) for reason in m.SKIP_REASONS),
    *(broken_code(test, status) for test in TEST_NAMES for status in m.BROKEN_STATUSES),
)

# Which tests prove or disprove which of check's predictions (all must have passed to disprove).
PREDICTION_TESTS: Dict[str, Tuple[str, ...]] = {
    "fp16-attention-abort-risk": ATTENTION_TESTS,
    "fp16-attention-abort-avoided": ATTENTION_TESTS,
    "nvrtc-too-old": SV_FP32_TESTS,
    "nvrtc-too-old-avoided": SV_FP32_TESTS,
    "nvrtc-arch-dropped": SV_FP32_TESTS,
    "no-kernels-for-gpu": BASIC_KERNEL_TESTS,
}


# A smoke test's feature -> the check finding whose workaround (configure's FP16 off, v2Pro speaker
# verification on the CPU) keeps GPT-SoVITS from running that feature on the GPU.
_FEATURE_WORKAROUND = {"fp16": FP16_RISK, "v2pro-sv": NVRTC_OLD}


def avoided_by(facts: Facts, test: str) -> Optional[str]:
    """How the GPT-SoVITS configuration avoids what TEST exercises (None: the WebUI does run it on the GPU).
    After `fix`'s choice A the FP16 and GPU-fft tests still break on the memo's card; that is the very
    failure the workaround steers around, so it must not undo the workaround."""
    code = _FEATURE_WORKAROUND.get(FEATURE_OF.get(test, ""))
    return facts.workarounds.get(code) if code else None


def tag_known_errors(results: Sequence[m.SmokeResult], known: Sequence[KnownError]) -> List[m.SmokeResult]:
    tagged = []
    for result in results:
        hit = first_known_error(result.error, known) if result.status != m.SKIPPED else None
        tagged.append(replace(result, known_error=hit.code) if hit else result)
    return tagged


def _gpu_name(facts: Facts, index: Optional[int]) -> str:
    for gpu in facts.gpu.gpus:
        if gpu.index == index:
            return gpu.name
    return "cuda:0" if index is None else str(index)


def first_line(text: Optional[str]) -> str:
    """The first non-blank line of a child's error text, stripped ("" when there is none)."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def key_line(text: Optional[str]) -> str:
    """The most telling line of an error: a FATAL/Error line if present, else the first one (uncut)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return next((line for line in lines if _TELLING.search(line)), lines[0] if lines else "")


_TELLING = re.compile(r"FATAL|nvrtc|no kernel image|CUDA error|out of memory|Error:")


def smoke_findings(facts: Facts, results: Sequence[m.SmokeResult]) -> List[Finding]:
    findings: List[Finding] = []
    by_gpu: Dict[Optional[int], List[m.SmokeResult]] = {}
    for result in results:
        by_gpu.setdefault(result.gpu_index, []).append(result)
    for gpu_index, group in by_gpu.items():
        gpu = _gpu_name(facts, gpu_index)
        passed = [r.test for r in group if r.status == m.PASSED]
        if passed:
            seconds = round(sum(r.duration_s for r in group if r.status == m.PASSED), 1)
            findings.append(Finding(SMOKE_PASSED, Severity.OK, {"gpu": gpu, "tests": ", ".join(passed),
                                    "count": len(passed), "seconds": seconds}, (), gpu_index))
        skipped: Dict[str, List[m.SmokeResult]] = {}
        for r in group:
            if r.status == m.SKIPPED:
                # A reason with no text of its own (a script newer than this catalogue) reads as unknown.
                known = r.reason if r.reason in m.SKIP_REASONS else m.UNKNOWN_REASON
                skipped.setdefault(known, []).append(r)
        for reason, items in skipped.items():
            detail = next((r.error for r in items if r.error), "") or ""
            findings.append(Finding(skipped_code(reason), Severity.OK,
                                    {"gpu": gpu, "tests": ", ".join(r.test for r in items), "reason": reason,
                                     "detail": first_line(detail)[:300]}, (), gpu_index))
        for r in group:
            if r.status in (m.PASSED, m.SKIPPED):
                continue
            avoided = avoided_by(facts, r.test)
            severity = Severity.WARNING if r.status == m.TIMEOUT or avoided else Severity.BLOCKING
            params = {"gpu": gpu, "test": r.test, "status": r.status, "error": key_line(r.error)[:300],
                      "exit": r.exit or "", "stage": r.stage or "", "seconds": round(r.duration_s, 1),
                      "known_error": r.known_error or ""}
            evidence: List[str] = [smoke_result_line(r.test, str(gpu), r.status, r.exit or "", r.stage or "")]
            if r.known_error:
                evidence.append(known_error_line(r.known_error))
            if avoided:
                evidence.append(Line(f"GPT-SoVITS is configured not to run this on the GPU ({avoided}): a warning, "
                                     "not a blocker", "line.avoided", how=avoided))
            evidence.extend(line for line in (r.error or "").strip().splitlines()[-12:] if line.strip())
            findings.append(Finding(broken_code(r.test, r.status), severity, params, tuple(evidence), gpu_index))
    return findings


def _status(results: Sequence[m.SmokeResult], test: str, gpu_index: Optional[int]) -> Optional[m.SmokeResult]:
    return next((r for r in results if r.test == test and r.gpu_index == gpu_index), None)


def reconcile(findings: Sequence[Finding], results: Sequence[m.SmokeResult]) -> List[Finding]:
    """Evidence beats prediction: drop what passed tests disprove, annotate what broken tests confirm."""
    out: List[Finding] = []
    for finding in findings:
        tests = PREDICTION_TESTS.get(finding.code)
        if not tests:
            out.append(finding)
            continue
        found = [_status(results, t, finding.gpu_index) for t in tests]
        ran = [r for r in found if r is not None and r.ran]
        if len(ran) == len(tests) and all(r.status == m.PASSED for r in ran):
            params = {"prediction": finding.code, "tests": ", ".join(tests), "gpu": finding.params.get("gpu", ""),
                      "arch": finding.params.get("arch", "")}
            evidence = tuple(predicted_line(line) for line in finding.evidence) + tuple(
                Line(f"{r.test}: passed in {r.duration_s:.1f} s", "line.passed_in", test=r.test,
                     seconds=f"{r.duration_s:.1f}") for r in ran)
            out.append(Finding(PREDICTION_DISPROVED, Severity.OK, params, evidence, finding.gpu_index))
            continue
        broke = [r for r in ran if r.broke]
        if broke:
            extra = tuple(confirmed_line(r.test, r.status, r.exit or "") for r in broke)
            finding = replace(finding, evidence=finding.evidence + extra)
        out.append(finding)
    return out
