"""`envdoctor summarize DIR`: many reports at a glance, for a support team.

Reads every report.json under DIR (loose, or inside report zips), and counts reports by GPU arch,
driver branch, torch build, finding code and verdict. A file that is not a report is listed as
skipped with the reason, never fatal.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Tuple

from rich.table import Table

from envdoctor.fileio.reportfile import read_report_json
from envdoctor.i18n import message
from envdoctor.model import arch_of
from envdoctor.report.document import is_report_envelope

if TYPE_CHECKING:
    from rich.console import Console

DIMENSIONS = ("by_gpu_arch", "by_driver_branch", "by_torch_build", "by_finding", "by_verdict")


def load_reports(directory: str) -> Tuple[List[Tuple[str, Dict[str, Any]]], List[Dict[str, str]]]:
    """(reports as (relative path, envelope), skipped files with a reason), in path order."""
    reports: List[Tuple[str, Dict[str, Any]]] = []
    skipped: List[Dict[str, str]] = []
    for path in _candidates(directory):
        relative = os.path.relpath(path, directory).replace(os.sep, "/")
        try:
            data = read_report_json(path)
        except (OSError, ValueError, zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
            skipped.append({"path": relative, "reason": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        if data is None:
            continue  # a zip or JSON that is not ours: nothing to say
        if not is_report_envelope(data):
            skipped.append({"path": relative, "reason": "not an envdoctor report"})
            continue
        reports.append((relative, data))
    return reports, skipped


def _candidates(directory: str) -> Iterable[str]:
    for current, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            lower = name.lower()
            if lower == "report.json" or lower.endswith(".zip") or (lower.endswith(".json") and "report" in lower):
                yield os.path.join(current, name)


def _arch(cc: Any) -> str:
    return arch_of(cc) if cc else "unknown"


def _driver_branch(version: Any) -> str:
    return str(version).split(".")[0] if version else "none"


def _values(envelope: Dict[str, Any]) -> Dict[str, Any]:
    """What one report adds to each dimension (raises on fields of the wrong type)."""
    facts = envelope.get("facts") or {}
    gpus = envelope.get("gpus") or []
    archs = {_arch(g.get("compute_capability")) for g in gpus} or {"no-gpu"}  # two sm_86 cards count once
    driver = (facts.get("gpu") or {}).get("driver") or {}
    torch = facts.get("torch") or {}
    codes = {f"{f.get('code')}" for f in envelope.get("findings") or [] if f.get("severity") != "ok"}
    return {
        "by_gpu_arch": archs,
        "by_driver_branch": [_driver_branch(driver.get("version"))],
        "by_torch_build": [str(torch.get("version") or "none")],
        "by_finding": codes,
        "by_verdict": [str(envelope.get("verdict") or "?")],
    }


def summarize(reports: List[Tuple[str, Dict[str, Any]]], skipped: List[Dict[str, str]]) -> Dict[str, Any]:
    counters: Dict[str, Counter] = {name: Counter() for name in DIMENSIONS}
    skipped = list(skipped)
    counted = 0
    for path, envelope in reports:
        try:
            values = _values(envelope)
        except (AttributeError, TypeError, ValueError):
            # A report.json anyone could have edited: a field of the wrong type skips that report only.
            skipped.append({"path": path, "reason": "a field has the wrong type"})
            continue
        counted += 1
        for name, items in values.items():
            counters[name].update(items)
    summary: Dict[str, Any] = {"reports": counted}
    for name in DIMENSIONS:
        items = sorted(counters[name].items(), key=lambda kv: (-kv[1], kv[0]))
        summary[name] = [{"value": value, "count": count} for value, count in items]
    summary["skipped"] = skipped
    return summary


def render_summary(summary: Dict[str, Any], lang: str, console: Console) -> None:

    console.print(message(lang, "summarize.reports", count=summary["reports"]))
    for name in DIMENSIONS:
        table = Table(title=message(lang, f"summarize.{name}"), title_justify="left")
        table.add_column(message(lang, "summarize.value"), overflow="fold")
        table.add_column(message(lang, "summarize.count"), justify="right", overflow="fold")
        for item in summary[name]:
            table.add_row(str(item["value"]), str(item["count"]))
        console.print(table)
    for item in summary["skipped"]:
        console.print(message(lang, "summarize.skipped", path=item["path"], reason=item["reason"]), style="dim")
