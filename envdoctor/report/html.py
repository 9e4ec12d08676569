"""report.html: one self-contained page (inline style, no script, nothing fetched) that opens offline
in any browser and reads on a phone. A pure function of the envelope."""

from __future__ import annotations

from html import escape
from typing import Any, Dict, List

from envdoctor.i18n import message
from envdoctor.report.view import Section, View, build_view, severity_label

_STYLE = """
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d2330;--muted:#5b6474;--line:#dde1e8;--ok:#1a7f37;--warn:#9a6700;
--bad:#cf222e;--info:#8250df;--code:#eef1f5}
@media (prefers-color-scheme:dark){:root{--bg:#0f1218;--card:#171b23;--fg:#e6e9ef;--muted:#9aa3b2;--line:#2b313c;
--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#a371f7;--code:#10141b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC",
"Microsoft YaHei","Noto Sans CJK SC",sans-serif}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:.2em 0}
h2{font-size:1.1em;margin:0 0 .6em}
.meta{color:var(--muted);font-size:.85em;margin:0 0 12px}
.meta span{display:inline-block;margin-right:1em}
.note{border-left:4px solid var(--ok);padding:6px 10px;background:var(--card);margin:0 0 12px;font-size:.9em}
.note.raw{border-color:var(--bad);font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:0 0 14px}
.summary{border-width:2px}
.summary.ready,.summary.ok{border-color:var(--ok)}
.summary.warnings,.summary.warning{border-color:var(--warn)}
.summary.will-fail,.summary.blocking{border-color:var(--bad)}
.summary.could-not-check{border-color:var(--info)}
.verdict{font-size:1.2em;font-weight:700;margin:0 0 .4em}
.top{font-weight:600}
.fix{margin-top:.5em;padding:8px 10px;border-radius:8px;background:var(--code)}
.finding{border-top:1px solid var(--line);padding:8px 0}
.finding:first-of-type{border-top:0}
.badge{display:inline-block;min-width:3.2em;text-align:center;border-radius:6px;padding:0 6px;margin-right:6px;
font-size:.8em;font-weight:700;color:#fff}
.badge.ok{background:var(--ok)}.badge.warning{background:var(--warn)}.badge.blocking{background:var(--bad)}
.detail{color:var(--muted);margin:.2em 0}
dl{display:grid;grid-template-columns:minmax(8em,max-content) 1fr;gap:4px 14px;margin:0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
@media (max-width:560px){dl{grid-template-columns:1fr}dd{margin-bottom:6px}}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;min-width:34em;font-size:.9em}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{white-space:nowrap}
td{overflow-wrap:break-word}
pre{background:var(--code);padding:10px;border-radius:8px;white-space:pre-wrap;word-break:break-word;
font:12.5px/1.45 ui-monospace,SFMono-Regular,Consolas,"Liberation Mono",monospace;margin:.6em 0 0}
summary{cursor:pointer;color:var(--muted)}
.muted{color:var(--muted)}
"""


def render_html(envelope: Dict[str, Any]) -> str:
    view = build_view(envelope)
    t = lambda key, **params: message(view.lang, key, **params)  # noqa: E731
    out: List[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if view.lang == "zh_CN" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No network, ever: the page may be opened from a ticket on a machine that must not call out.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{escape(view.title)} — {escape(view.headline.verdict)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body><main>",
        f"<h1>{escape(view.title)}</h1>",
        '<p class="meta">' + "".join(f"<span>{escape(k)}: {escape(v)}</span>" for k, v in view.meta) + "</p>",
        f'<p class="note{"" if view.redacted else " raw"}">{escape(view.redaction_note)}</p>',
    ]
    out.extend(_summary(view, t))
    out.extend(_findings(view, t))
    for section in view.sections:
        out.extend(_section(section, t))
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _summary(view: View, t: Any) -> List[str]:
    head = view.headline
    out = [f'<section class="card summary {escape(head.verdict)}" id="summary">',
           f'<p class="verdict">{escape(head.verdict_text)}</p>']
    if head.title:
        out.append(f'<p class="top">{escape(t("report.top_finding"))}: {escape(head.title)}</p>')
        if head.detail:
            out.append(f'<p class="detail">{escape(head.detail)}</p>')
        if head.fix:
            out.append(f'<p class="fix"><strong>{escape(t("ui.fix"))}:</strong> {escape(head.fix)}</p>')
    out.append("</section>")
    return out


def _findings(view: View, t: Any) -> List[str]:
    out = ['<section class="card" id="findings">', f"<h2>{escape(t('report.findings'))}</h2>"]
    if not view.findings:
        out.append(f'<p class="muted">{escape(t("ui.none"))}</p>')
    for finding in view.findings:
        severity = str(finding.get("severity"))
        out.append('<div class="finding">')
        out.append(f'<div><span class="badge {escape(severity)}">{escape(severity_label(view.lang, severity))}</span>'
                   f'<strong>{escape(str(finding.get("title", "")))}</strong> '
                   f'<span class="muted">[{escape(str(finding.get("code", "")))}]</span></div>')
        if finding.get("detail"):
            out.append(f'<p class="detail">{escape(str(finding["detail"]))}</p>')
        if finding.get("fix"):
            out.append(f'<p class="fix"><strong>{escape(t("ui.fix"))}:</strong> {escape(str(finding["fix"]))}</p>')
        out.append("</div>")
    out.append("</section>")
    return out


def _section(section: Section, t: Any) -> List[str]:
    body: List[str] = []
    if section.pairs:
        body.append("<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in section.pairs) + "</dl>")
    if section.header:
        head = "".join(f"<th>{escape(h)}</th>" for h in section.header)
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in section.rows)
        body.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
    if section.text:
        body.append(f"<pre>{escape(section.text)}</pre>")
    if section.note:
        body.append(f'<p class="muted">{escape(section.note)}</p>')
    out = [f'<section class="card" id="{escape(section.key)}">', f"<h2>{escape(section.title)}</h2>"]
    if section.collapsed:
        out.append(f"<details><summary>{escape(t('report.show'))}</summary>")
        out.extend(body)
        out.append("</details>")
    else:
        out.extend(body)
    out.append("</section>")
    return out
