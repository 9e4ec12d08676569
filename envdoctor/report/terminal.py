"""The terminal view of a check: a one-line verdict, the facts table, the findings table."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from envdoctor.i18n import colon, has_message, message
from envdoctor.i18n.lines import display_params, localize_line, say
from envdoctor.model import CheckReport, Finding, Line, Severity, Verdict, arch_name
from envdoctor.report.origin import fix_text, origin_line, shows_origin

if TYPE_CHECKING:
    from rich.console import Console

_VERDICT_STYLE = {
    Verdict.READY: "bold green",
    Verdict.WARNINGS: "bold yellow",
    Verdict.WILL_FAIL: "bold red",
    Verdict.COULD_NOT_CHECK: "bold magenta",
}
_SEVERITY_STYLE = {Severity.OK: "green", Severity.WARNING: "yellow", Severity.BLOCKING: "red"}


def _facts_rows(report: CheckReport, lang: str) -> List[tuple]:
    facts = report.facts
    rows = []
    verdicts = {v.gpu_index: v for v in report.gpu_verdicts}
    if facts.gpu.gpus:
        for gpu in facts.gpu.gpus:
            coverage = verdicts.get(gpu.index)
            cov = message(lang, f"ui.coverage.{coverage.coverage}") if coverage and coverage.coverage else "?"
            memory = f", {gpu.memory_total_mib} MiB" if gpu.memory_total_mib else ""
            rows.append((f"{message(lang, 'ui.gpu')} {gpu.index}",
                         f"{gpu.name} ({arch_name(gpu.compute_capability)}{memory}) "
                         f"[{gpu.source}] — {message(lang, 'ui.coverage')}{colon(lang)}{cov}"))
    else:
        empty = "ui.gpu_unknown" if facts.gpu_origin == "unknown" else "ui.no_gpu"
        rows.append((message(lang, "ui.gpu"), message(lang, empty)))
    driver = facts.gpu.driver
    if driver:
        text = message(lang, "ui.driver_cuda", version=driver.version, cuda=driver.cuda_version) \
            if driver.cuda_version else driver.version
        rows.append((message(lang, "ui.driver"), f"{text} [{driver.source}]"))
    if facts.runtime:
        rt = facts.runtime
        layout = message(lang, f"ui.layout.{rt.layout}") if has_message(lang, f"ui.layout.{rt.layout}") else rt.layout
        rows.append((message(lang, "ui.runtime"),
                     f"{rt.root} ({layout}, Python {rt.python_version or message(lang, 'ui.unknown_version')})"))
        if shows_origin(facts.gpu_origin, facts.foreign_platform):
            rows.append((message(lang, "ui.origin"),
                         origin_line(lang, rt.platform, facts.host_platform, facts.gpu_origin)))
    if facts.torch:
        torch = facts.torch
        audio = facts.distribution("torchaudio")
        extra = f", torchaudio {audio.version}" if audio else ""
        rows.append((message(lang, "ui.torch"), f"{torch.version} (CUDA {torch.cuda or '-'}){extra}"))
    if facts.live:
        live = facts.live
        cached = f", {message(lang, 'ui.live.cached')}" if live.cached else ""
        error_lines = (live.error or "").splitlines()
        first = live.error if isinstance(live.error, Line) else (error_lines[0][:120] if error_lines else "")
        detail = " ".join(live.arch_list) if live.status == "ok" else localize_line(lang, first)
        status = display_params(lang, {"status": live.status})["status"]
        rows.append((message(lang, "ui.live"), f"{status}{cached} {detail}".strip()))
    return rows


def _visible(findings: List[Finding]) -> List[Finding]:
    """Blocking first, then warnings, then the OK confirmations."""
    return sorted(findings, key=lambda f: -f.severity.rank)


def render_check(report: CheckReport, lang: str, console: Console, verbose: bool = False) -> None:
    # Start-up: a --json check never draws the table.
    from rich.table import Table
    from rich.text import Text

    console.print(Text(message(lang, f"verdict.{report.verdict.value}"), style=_VERDICT_STYLE[report.verdict]))
    facts = Table(show_header=False, box=None, pad_edge=False)
    facts.add_column(style="bold", overflow="fold")
    facts.add_column(overflow="fold")
    for label, value in _facts_rows(report, lang):
        facts.add_row(label, Text(value))  # plain text: "[override]" is a source tag, not rich markup
    console.print(facts)
    table = Table(show_lines=False, expand=False)
    table.add_column(message(lang, "ui.severity"), no_wrap=True, overflow="fold")
    # "fold", not the default ellipsis: Chinese text has no spaces, so rich would cut it off.
    table.add_column(message(lang, "ui.finding"), overflow="fold")
    table.add_column(message(lang, "ui.fix"), overflow="fold")
    for finding in _visible(list(report.findings)):
        base = f"finding.{finding.code}"
        label = Text(message(lang, f"ui.severity.{finding.severity.value}"), style=_SEVERITY_STYLE[finding.severity])
        params = display_params(lang, finding.params)
        body = Text(message(lang, base + ".title", **params), style="bold")
        detail = message(lang, base + ".detail", **params).strip()
        if detail and (finding.severity is not Severity.OK or verbose):
            body.append("\n" + detail)
        if verbose and finding.evidence:
            body.append("\n" + "\n".join(f"· {say(lang, line)}" for line in finding.evidence), style="dim")
        table.add_row(label, body, fix_text(lang, finding.code, finding.params, report.facts.foreign_platform,
                                            finding.severity.value))
    console.print(table)
    verdict = message(lang, "ui.verdict_word." + report.verdict.value)
    console.print(Text(f"{message(lang, 'ui.verdict')}{colon(lang)}{verdict} "
                       f"({message(lang, 'ui.exit_code', code=report.verdict.exit_code)})", style="dim"))
