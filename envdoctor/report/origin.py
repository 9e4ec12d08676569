"""Whose facts are whose, for every renderer: the runtime and torch are always read from the bundle's
files; the GPU and driver may be this machine's, given, from the user's report, or unknown. Where a
bundle for another OS is examined, the fixes are for the machine that runs it (`envdoctor upgrade`
refuses a runtime it cannot run, so "run envdoctor upgrade" here would be advice that fails)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from envdoctor.i18n import message
from envdoctor.i18n.lines import display_params

# Origins that differ from "this machine checks its own runtime" and so must be said: a simulated GPU
# (ENVDOCTOR_GPUS, --assume-gpu, the demo) is marked as such in check's output and in the report.
_TOLD = ("given", "report", "unknown", "override", "simulated")


def shows_origin(gpu_origin: str, foreign: Optional[str]) -> bool:
    return foreign is not None or gpu_origin in _TOLD


def origin_line(lang: str, runtime_platform: str, host: str, gpu_origin: str) -> str:
    gpu = message(lang, f"ui.origin.gpu.{gpu_origin}", host=host)
    return message(lang, "ui.origin.text", platform=runtime_platform, gpu=gpu)


def fix_text(lang: str, code: str, params: Dict[str, Any], foreign: Optional[str], severity: str = "") -> str:
    """The fix of a finding; none for an OK row (information: there is nothing to fix)."""
    if severity == "ok":
        return ""
    fix = message(lang, f"finding.{code}.fix", **display_params(lang, params))
    if foreign is None or not fix or code == "bundle-machine-unknown":
        return fix
    return message(lang, "ui.fix_elsewhere", platform=foreign, fix=fix)


def envelope_origin(facts: Dict[str, Any]) -> Optional[Dict[str, str]]:
    """(runtime platform, host, gpu origin, foreign) from an envelope's facts, for the report's view."""
    runtime = facts.get("runtime") or {}
    host = str(facts.get("host_platform") or "?")
    platform = str(runtime.get("platform") or "")
    origin = str(facts.get("gpu_origin") or "host")
    foreign = platform if platform and platform != host and origin != "simulated" else None
    if not shows_origin(origin, foreign):
        return None
    return {"platform": platform or "?", "host": host, "gpu_origin": origin, "foreign": foreign or ""}
