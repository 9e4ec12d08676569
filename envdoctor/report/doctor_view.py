"""doctor's outputs: the JSON envelope (check's, plus smoke results and recommendations) and the
terminal view (check's view, then the smoke-test table, then the recommended settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from rich.table import Table
from rich.text import Text

from envdoctor.doctor import results as m
from envdoctor.doctor.findings import key_line
from envdoctor.i18n import message
from envdoctor.i18n.lines import say
from envdoctor.model import to_jsonable
from envdoctor.report.check_data import check_data
from envdoctor.report.terminal import render_check

if TYPE_CHECKING:
    from rich.console import Console

SETTINGS = ("fp16", "v2pro_sv", "arch_list", "upgrade_needed")
_STATUS_STYLE = {m.PASSED: "green", m.FAILED: "red", m.CRASHED: "bold red", m.TIMEOUT: "yellow", m.SKIPPED: "dim"}


def setting_dict(setting: m.Setting, lang: str) -> Dict[str, Any]:
    return {"value": setting.value, "reason_key": setting.reason, "reason": message(lang, setting.reason,
            **setting.params), "params": to_jsonable(setting.params), "source": setting.source,
            "evidence": list(setting.evidence)}


def recommendation_dict(rec: m.Recommendation, lang: str) -> Dict[str, Any]:
    out = {name: setting_dict(getattr(rec, name), lang) for name in SETTINGS}
    out["arch_list"]["note"] = message(lang, "recommend.arch_list.note")
    return out


def smoke_dict(result: m.SmokeResult, lang: str) -> Dict[str, Any]:
    out = to_jsonable(result)
    out["title"] = message(lang, f"smoke.test.{result.test}")
    if result.reason:
        out["reason_text"] = message(lang, f"smoke.skip.{result.reason}")
    return out


def doctor_data(report: m.DoctorReport, lang: str) -> Dict[str, Any]:
    """check's data, then the smoke results and the recommended settings."""
    payload = check_data(report.check, lang)
    payload["smoke"] = [smoke_dict(r, lang) for r in report.smoke]
    payload["recommendation"] = recommendation_dict(report.recommendation, lang)
    return payload


def _value_text(name: str, value: Any, lang: str) -> str:
    if value is None:
        return message(lang, "ui.doctor.unknown")
    if name == "fp16":
        return message(lang, "ui.doctor.on" if value else "ui.doctor.off")
    if name == "upgrade_needed":
        return message(lang, "ui.doctor.yes" if value else "ui.doctor.no")
    if name == "v2pro_sv":
        return message(lang, {"on": "ui.doctor.on", "off": "ui.doctor.off", "cpu": "ui.doctor.cpu"}[value])
    return str(value)


def status_text(result: m.SmokeResult, lang: str) -> str:
    """'crashed (SIGABRT)': the status in the chosen language, and how the child ended."""
    return message(lang, f"smoke.status.{result.status}") + (f" ({result.exit})" if result.exit else "")


def why_text(result: m.SmokeResult, lang: str) -> str:
    """Why it was skipped, or the error line the smoke finding quotes."""
    if result.reason:
        return message(lang, f"smoke.skip.{result.reason}")
    line = key_line(result.error)
    return message(lang, "ui.quoted", text=line) if line else ""


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_doctor(report: m.DoctorReport, lang: str, console: Console, verbose: bool = False) -> None:


    render_check(report.check, lang, console, verbose=verbose)
    names = {g.index: g.name for g in report.check.facts.gpu.gpus}
    table = Table(title=message(lang, "ui.doctor.smoke"), title_justify="left")
    for key in ("ui.doctor.test", "ui.doctor.gpu", "ui.doctor.status", "ui.doctor.time", "ui.doctor.error"):
        table.add_column(message(lang, key), overflow="fold")
    for r in report.smoke:
        status = Text(status_text(r, lang), style=_STATUS_STYLE.get(r.status, ""))
        why = _short(why_text(r, lang))
        if r.known_error:
            why = f"[{r.known_error}] {why}"
        gpu = "-" if r.gpu_index is None else f"{r.gpu_index} {names.get(r.gpu_index, '')}".strip()
        took = "" if r.status == m.SKIPPED else message(lang, "ui.seconds", seconds=f"{r.duration_s:.1f}")
        table.add_row(r.test, gpu, status, took, why)
    console.print(table)
    rec = report.recommendation
    settings = Table(title=message(lang, "ui.doctor.recommend"), title_justify="left")
    for key in ("ui.doctor.setting", "ui.doctor.value", "ui.doctor.why", "ui.doctor.source"):
        settings.add_column(message(lang, key), overflow="fold")
    for name in SETTINGS:
        setting: m.Setting = getattr(rec, name)
        why = message(lang, setting.reason, **setting.params)
        if verbose and setting.evidence:
            why += "\n" + "\n".join(f"· {say(lang, line)}" for line in setting.evidence)
        settings.add_row(message(lang, f"ui.doctor.{name}"), Text(_value_text(name, setting.value, lang), style="bold"),
                         why, message(lang, f"ui.doctor.source.{setting.source}"))
    console.print(settings)
    console.print(Text(message(lang, "recommend.arch_list.note"), style="dim"))
