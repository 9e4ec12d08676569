"""The versioned JSON envelope that `--json` prints and reports embed.

Stable: `schema`, `schema_version`, `verdict`, `exit_code`, finding `code`s and `severity`.
Text fields (title, detail, fix) are in the chosen language and may change wording.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from envdoctor import __version__
from envdoctor.errors import EnvdoctorError
from envdoctor.i18n import message
from envdoctor.i18n.lines import display_params
from envdoctor.model import CheckReport, Finding, Verdict, format_cc, to_jsonable
from envdoctor.report.origin import fix_text

SCHEMA = "envdoctor.check"
SCHEMA_VERSION = 1


def _head(lang: str, command: str) -> Dict[str, Any]:
    """The fields every envelope starts with, in this order."""
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "envdoctor_version": __version__,
            "command": command, "lang": lang}


def finding_dict(finding: Finding, lang: str, foreign: Optional[str] = None) -> Dict[str, Any]:
    """FOREIGN: the runtime's OS where it is not this machine's (the fix is for the machine that runs it)."""
    base = f"finding.{finding.code}"
    shown = display_params(lang, finding.params)  # "来源：兼容性矩阵", not "来源：matrix"
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "gpu_index": finding.gpu_index,
        "title": message(lang, base + ".title", **shown),
        "detail": message(lang, base + ".detail", **shown),
        "fix": fix_text(lang, finding.code, finding.params, foreign),
        "params": to_jsonable(finding.params),
        "evidence": list(finding.evidence),
    }


def check_envelope(report: CheckReport, lang: str, command: str = "check") -> Dict[str, Any]:
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
        **_head(lang, command),
        "verdict": report.verdict.value,
        "exit_code": report.verdict.exit_code,
        "summary": message(lang, f"verdict.{report.verdict.value}"),
        "gpus": gpus,
        "findings": [finding_dict(f, lang, report.facts.foreign_platform) for f in report.findings],
        "facts": to_jsonable(report.facts),
        "matrix": report.matrix_where,
        "timings_ms": dict(report.timings_ms),
    }


def error_envelope(error: EnvdoctorError, lang: str, command: str) -> Dict[str, Any]:
    return {
        **_head(lang, command),
        "verdict": Verdict.COULD_NOT_CHECK.value,
        "exit_code": error.exit_code,
        "error": {"key": error.key, "message": message(lang, error.key, **error.params),
                  "params": to_jsonable(error.params)},
    }
