"""The runtime's Python must be one the torch series ships wheels for (matters for upgrades too)."""

from __future__ import annotations

from typing import List

from envdoctor.diagnose.context import DiagnosisContext
from envdoctor.model import Finding, Severity
from envdoctor.versions import as_tuple

CODES = ("python-unsupported",)


def evaluate(ctx: DiagnosisContext) -> List[Finding]:
    runtime, series = ctx.facts.runtime, ctx.torch_series()
    if runtime is None or series is None or not runtime.python_version:
        return []
    version = as_tuple(runtime.python_version)[:2]
    if as_tuple(series.python_min)[:2] <= version <= as_tuple(series.python_max)[:2]:
        return []
    params = {"python": runtime.python_version, "series": series.series, "min": series.python_min,
              "max": series.python_max}
    return [Finding("python-unsupported", Severity.WARNING, params, (series.source,))]
