"""The data of `check`'s JSON envelope (also embedded by doctor and report): verdict, GPUs, findings, facts.

Stable: `verdict`, `exit_code`, finding `code`s and `severity`. Text fields (title, detail, fix) are in
the chosen language and may change wording. The envelope itself is written by `envdoctor.envelope`.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from envdoctor import envelope
from envdoctor.i18n import message
from envdoctor.i18n.lines import display_params
from envdoctor.model import CheckReport, Finding, Line, format_cc, to_jsonable
from envdoctor.report.origin import fix_text

SCHEMA = envelope.schema_name("check")
# A report.json says envdoctor.report; reports written before the one envelope writer said envdoctor.check.
REPORT_SCHEMAS = (envelope.schema_name("report"), SCHEMA)


def finding_dict(finding: Finding, lang: str, foreign: Optional[str] = None) -> Dict[str, Any]:
    """FOREIGN: the runtime's OS where it is not this machine's (the fix is for the machine that runs it)."""
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "gpu_index": finding.gpu_index,
        **finding_texts(lang, finding.code, finding.params, finding.severity.value, foreign),
        "params": to_jsonable(finding.params),
        "evidence": list(finding.evidence),  # English, for scripts and support
        # The same lines as data (key and parameters, for a renderer in any language); null: quoted text.
        "evidence_lines": [line.to_json() if isinstance(line, Line) else None for line in finding.evidence],
    }


def finding_texts(lang: str, code: str, params: Mapping[str, Any], severity: str,
                  foreign: Optional[str] = None) -> Dict[str, str]:
    """A finding's title, detail and fix in LANG, from its code and parameters: what check's envelope
    stores, and what the report's renderers draw again in the reader's language (report --from)."""
    base = f"finding.{code}"
    shown = display_params(lang, params)  # "来源：兼容性矩阵", not "来源：matrix"
    return {
        "title": message(lang, base + ".title", **shown),
        "detail": message(lang, base + ".detail", **shown),
        "fix": fix_text(lang, code, dict(params), foreign, severity),
    }


def check_data(report: CheckReport, lang: str) -> Dict[str, Any]:
    """The envelope body of a check (verdict first: launchers and people read it first)."""
    gpus = []
    by_index = {v.gpu_index: v for v in report.gpu_verdicts}
    for gpu in report.facts.gpu.gpus:
        verdict = by_index.get(gpu.index)
        gpus.append({
            "index": gpu.index,
            "name": gpu.name,
            "compute_capability": format_cc(gpu.compute_capability) if gpu.compute_capability else None,
            "verdict": verdict.verdict.value if verdict else None,
            "coverage": verdict.coverage if verdict else None,
        })
    return {
        "verdict": report.verdict.value,
        "summary": message(lang, f"verdict.{report.verdict.value}"),
        "gpus": gpus,
        "findings": [finding_dict(f, lang, report.facts.foreign_platform) for f in report.findings],
        "facts": to_jsonable(report.facts),
        "matrix": report.matrix_where,
        "timings_ms": dict(report.timings_ms),
    }


def check_envelope(report: CheckReport, lang: str, command: str = "check") -> Dict[str, Any]:
    """A check's whole envelope (doctor and report add their own parts to the data first)."""
    return envelope.write(command, lang, report.verdict.exit_code, check_data(report, lang))
