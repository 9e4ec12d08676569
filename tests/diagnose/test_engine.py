"""The engine: a crashing rule becomes a finding; verdicts per GPU and overall."""

from __future__ import annotations

from types import SimpleNamespace

from envdoctor.diagnose.engine import diagnose, gpu_verdicts, overall_verdict
from envdoctor.matrix.views import Matrix
from envdoctor.model import Driver, Facts, Finding, Gpu, GpuFacts, Severity, Verdict

EMPTY_MATRIX = Matrix("test", (), (), (), (), (), {})


def _rule(name, evaluate):
    return SimpleNamespace(__name__=f"envdoctor.diagnose.rules.{name}", evaluate=evaluate)


def test_a_crashing_rule_is_a_finding_and_the_others_still_answer() -> None:
    def boom(ctx):
        raise KeyError("sass_archs")

    def fine(ctx):
        return [Finding("driver-ok", Severity.OK)]

    facts = Facts(GpuFacts((), None))
    findings = diagnose(facts, EMPTY_MATRIX, rules=[_rule("boom", boom), _rule("fine", fine)])
    assert [f.code for f in findings] == ["rule-crashed", "driver-ok"]
    assert findings[0].params["rule"] == "boom" and "sass_archs" in findings[0].params["error"]
    assert overall_verdict(findings) is Verdict.WARNINGS


def test_verdict_per_gpu() -> None:
    gpus = (Gpu(0, "RTX 5090", (12, 0)), Gpu(1, "RTX 3090", (8, 6)))
    facts = Facts(GpuFacts(gpus, Driver("576.02")))
    findings = [
        Finding("no-kernels-for-gpu", Severity.BLOCKING, gpu_index=0),
        Finding("kernels-native", Severity.OK, gpu_index=1),
        Finding("driver-ok", Severity.OK),
    ]
    per_gpu = {v.gpu_index: v for v in gpu_verdicts(facts, findings)}
    assert per_gpu[0].verdict is Verdict.WILL_FAIL and per_gpu[0].coverage == "none"
    assert per_gpu[1].verdict is Verdict.READY and per_gpu[1].coverage == "native"
    assert overall_verdict(findings) is Verdict.WILL_FAIL
    assert overall_verdict([]) is Verdict.READY
