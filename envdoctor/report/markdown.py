"""report.md: the report as Markdown to paste into a GitHub or Gitee issue.

Issue bodies are limited (GitHub: 65,536 characters), so the text is rendered whole first, then
compact (long lists left to the zip), then cut, until it fits `MAX_CHARS`.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from envdoctor.i18n import message
from envdoctor.report.view import Section, View, build_view, severity_label

MAX_CHARS = 60_000
COMPACT_TEXT_CHARS = 1_500
COMPACT_ROWS = 20
_SPECIAL = re.compile(r"([\\`*_\[\]|<>#~])")
_SEVERITY_MARK = {"blocking": "❌", "warning": "⚠️", "ok": "✅"}
_VERDICT_MARK = {"will-fail": "❌", "warnings": "⚠️", "ready": "✅", "could-not-check": "❓"}


def render_markdown(envelope: Dict[str, Any]) -> str:
    view = build_view(envelope)
    text = _render(view, compact=False)
    if len(text) > MAX_CHARS:
        text = _render(view, compact=True)
    if len(text) > MAX_CHARS:
        note = "\n\n" + message(view.lang, "report.md_cut") + "\n"
        text = text[:MAX_CHARS - len(note)] + note
    return text


def escape(text: str) -> str:
    """Plain text that Markdown shows as typed (GitHub would otherwise swallow `<user>` as a tag)."""
    return _SPECIAL.sub(r"\\\1", text).replace("\r", "").replace("\n", "<br>")


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"


def _render(view: View, compact: bool) -> str:
    t = lambda key, **params: message(view.lang, key, **params)  # noqa: E731
    out: List[str] = [f"# {escape(view.title)}", ""]
    out.append(" · ".join(f"{escape(k)}: {escape(v)}" for k, v in view.meta))
    out.append("")
    out.append(f"> {'🔒' if view.redacted else '⚠️'} {escape(view.redaction_note)}")
    out.append("")
    head = view.headline
    out.append(f"## {_VERDICT_MARK.get(head.verdict, '')} {escape(head.verdict_text)}".replace("#  ", "# "))
    out.append("")
    if head.title:
        out.append(f"**{escape(t('report.top_finding'))}:** {escape(head.title)}")
        out.append("")
        if head.detail:
            out.append(escape(head.detail))
            out.append("")
        if head.fix:
            out.append(f"**{escape(t('ui.fix'))}:** {escape(head.fix)}")
            out.append("")
    out.append(f"## {escape(t('report.findings'))}")
    out.append("")
    if view.findings:
        out.append(f"| {escape(t('ui.severity'))} | {escape(t('ui.finding'))} | {escape(t('ui.fix'))} |")
        out.append("|---|---|---|")
        for finding in view.findings:
            severity = str(finding.get("severity"))
            body = f"**{escape(str(finding.get('title', '')))}**"
            if finding.get("detail") and severity != "ok":
                body += "<br>" + escape(str(finding["detail"]))
            out.append(f"| {_SEVERITY_MARK.get(severity, '')} {escape(severity_label(view.lang, severity))} "
                       f"| {body} | {escape(str(finding.get('fix') or ''))} |")
    else:
        out.append(escape(t("ui.none")))
    out.append("")
    for section in view.sections:
        out.extend(_section(section, compact, t))
    return "\n".join(out).rstrip() + "\n"


def _section(section: Section, compact: bool, t: Any) -> List[str]:
    if compact and section.collapsed:
        return [f"## {escape(section.title)}", "", escape(t("report.see_zip")), ""]
    out = [f"## {escape(section.title)}", ""]
    body: List[str] = []
    if section.pairs:
        body.append("| | |")
        body.append("|---|---|")
        body.extend(f"| {escape(k)} | {escape(v)} |" for k, v in section.pairs)
        body.append("")
    if section.header:
        rows = section.rows[:COMPACT_ROWS] if compact else section.rows
        body.append("| " + " | ".join(escape(h) for h in section.header) + " |")
        body.append("|" + "---|" * len(section.header))
        body.extend("| " + " | ".join(escape(c) for c in row) + " |" for row in rows)
        if len(rows) < len(section.rows):
            body.append("")
            body.append(escape(t("report.more_in_zip", count=len(section.rows) - len(rows))))
        body.append("")
    if section.text:
        text = section.text[-COMPACT_TEXT_CHARS:] if compact else section.text
        body.append(_fence(text))
        body.append("")
    if section.note:
        body.append(escape(section.note))
        body.append("")
    if section.collapsed:
        out.append(f"<details><summary>{escape(t('report.show'))}</summary>")
        out.append("")
        out.extend(body)
        out.append("</details>")
        out.append("")
    else:
        out.extend(body)
    return out
