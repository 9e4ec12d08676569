"""Run every rule; a rule that raises becomes a finding, never a crashed run."""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.diagnose.rules import ALL_RULES
from envdoctor.matrix.views import Matrix
from envdoctor.model import Facts, Finding, GpuVerdict, Severity, Verdict

# The engine's own code: a rule that raised (its bug must not hide the other rules' answers).
RULE_CRASHED = "rule-crashed"
CODES = (RULE_CRASHED,)
# gpu_choice's codes for a GPU GPT-SoVITS will not infer on
UNUSED_CODES = ("gpu-not-used", "gpu-other-lacks-kernels")


def diagnose(facts: Facts, matrix: Matrix, rules: Optional[Sequence] = None) -> List[Finding]:

    ctx = DiagnosisContext(facts, matrix)
    findings: List[Finding] = []
    for rule in ALL_RULES if rules is None else rules:
        try:
            findings.extend(rule.evaluate(ctx))
        except Exception as exc:  # the rule's bug must not hide the other rules' answers
            name = rule.__name__.rsplit(".", 1)[-1]
            findings.append(
                Finding(RULE_CRASHED, Severity.WARNING, {"rule": name, "error": f"{type(exc).__name__}: {exc}"})
            )
    return findings


def overall_verdict(findings: Iterable[Finding]) -> Verdict:
    worst = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
    return Verdict.from_severity(worst)


def gpu_verdicts(facts: Facts, findings: Sequence[Finding]) -> Tuple[GpuVerdict, ...]:
    """A verdict per GPU: its own findings plus those that concern the whole machine."""
    verdicts = []
    for gpu in facts.gpu.gpus:
        relevant = [f for f in findings if f.gpu_index in (None, gpu.index)]
        coverage = next(
            (f.code for f in findings if f.gpu_index == gpu.index
             and f.code in ("kernels-native", "ptx-jit-only", "no-kernels-for-gpu")),
            None,
        )
        if coverage is None and any(f.gpu_index == gpu.index and f.code in UNUSED_CODES for f in findings):
            coverage = "unused"  # GPT-SoVITS leaves this GPU alone (rules/gpu_choice.py): not judged
        label = {"kernels-native": "native", "ptx-jit-only": "ptx-jit", "no-kernels-for-gpu": "none",
                 "unused": "unused"}.get(coverage or "")
        verdicts.append(GpuVerdict(gpu.index, overall_verdict(relevant), label))
    return tuple(verdicts)
