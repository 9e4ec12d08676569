"""What a report shows, in which order, with which labels: one neutral structure that the Markdown
and HTML renderers both draw, so the two never disagree. A pure function of the (redacted) envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from envdoctor.i18n import has_message, message
from envdoctor.i18n.lines import display_params, localize_line
from envdoctor.model import Severity, arch_of, arch_order
from envdoctor.report.check_data import finding_texts
from envdoctor.report.explained import explanation_texts
from envdoctor.report.origin import envelope_origin, origin_line

SEVERITY_ORDER = {s.value: -s.rank for s in Severity}  # worst first; unknown ones last
MAX_PACKAGES_SHOWN = 400


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    pairs: Tuple[Tuple[str, str], ...] = ()
    header: Tuple[str, ...] = ()
    rows: Tuple[Tuple[str, ...], ...] = ()
    text: str = ""  # preformatted (logs, errors)
    note: str = ""
    collapsed: bool = False


@dataclass(frozen=True)
class Headline:
    verdict: str
    verdict_text: str
    severity: str  # of the top finding, or "ok"
    title: str
    detail: str
    fix: str


@dataclass(frozen=True)
class View:
    lang: str
    title: str
    meta: Tuple[Tuple[str, str], ...]
    redacted: bool
    redaction_note: str
    headline: Headline
    findings: Tuple[Dict[str, Any], ...]
    sections: Tuple[Section, ...] = field(default_factory=tuple)


def build_view(envelope: Dict[str, Any]) -> View:
    lang = envelope.get("lang") or "en"
    t = lambda key, **params: message(lang, key, **params)  # noqa: E731
    report = envelope.get("report") or {}
    redacted = bool(report.get("redacted", True))
    meta = (
        (t("report.generated"), str(report.get("generated_at", "?"))),
        ("envdoctor", str(envelope.get("envdoctor_version", "?"))),
        (t("report.schema"), f"{envelope.get('schema')} v{envelope.get('schema_version')}"),
    )
    findings = tuple(sorted(rendered_findings(envelope, lang),
                            key=lambda f: SEVERITY_ORDER.get(str(f.get("severity")), 3)))
    return View(
        lang=lang,
        title=t("report.title"),
        meta=meta,
        redacted=redacted,
        redaction_note=t("report.redacted" if redacted else "report.not_redacted"),
        headline=_headline(envelope, lang, t),
        findings=findings,
        sections=tuple(s for s in (
            _gpus(envelope, t), _system(envelope, report, t), _coverage(envelope, t), _doctor(report, t),
            _upgrade(report, t), _gptsovits(report, t), *_logs(report, lang, t), _environment(report, t),
            _packages(envelope, t), _files(report, t),
        ) if s is not None),
    )


def severity_label(lang: str, severity: str) -> str:
    return message(lang, f"ui.severity.{severity}")


def rendered_findings(envelope: Dict[str, Any], lang: str) -> List[Dict[str, Any]]:
    """The envelope's findings with their texts drawn from code and params in LANG (a report read back
    in another language); a finding this version has no words for keeps the words it was stored with."""
    foreign = (envelope_origin(envelope.get("facts") or {}) or {}).get("foreign") or None
    shown = []
    for finding in envelope.get("findings") or []:
        code, params = finding.get("code"), finding.get("params")
        if isinstance(params, dict) and has_message(lang, f"finding.{code}.title"):
            try:
                finding = dict(finding, **finding_texts(lang, str(code), params, str(finding.get("severity")),
                                                        foreign))
            except (TypeError, ValueError, KeyError, AttributeError, IndexError):
                pass  # parameters this version cannot fill (a hand-edited report): the stored words stand
        shown.append(finding)
    return shown


def summary_text(envelope: Dict[str, Any], lang: str) -> str:
    verdict = str(envelope.get("verdict", "could-not-check"))
    if has_message(lang, f"verdict.{verdict}"):
        return message(lang, f"verdict.{verdict}")
    return str(envelope.get("summary") or verdict)


def _headline(envelope: Dict[str, Any], lang: str, t: Any) -> Headline:
    verdict = str(envelope.get("verdict", "could-not-check"))
    text = summary_text(envelope, lang)
    index = (envelope.get("report") or {}).get("headline", {}).get("finding")
    findings = rendered_findings(envelope, lang)
    if isinstance(index, int) and 0 <= index < len(findings):
        top = findings[index]
        return Headline(verdict, text, str(top.get("severity")), str(top.get("title", "")),
                        str(top.get("detail", "")), str(top.get("fix", "")))
    error = envelope.get("error") or {}
    return Headline(verdict, text, "ok", str(error.get("message", "")), "", "")


def _gpus(envelope: Dict[str, Any], t: Any) -> Optional[Section]:
    facts = envelope.get("facts") or {}
    by_index = {g.get("index"): g for g in (facts.get("gpu") or {}).get("gpus") or []}
    rows = []
    for gpu in envelope.get("gpus") or []:
        raw = by_index.get(gpu.get("index"), {})
        cc = gpu.get("compute_capability")
        arch = arch_of(cc) if cc else "?"
        memory = f"{raw['memory_total_mib']} MiB" if raw.get("memory_total_mib") else "-"
        coverage = t(f"ui.coverage.{gpu['coverage']}") if gpu.get("coverage") else "?"
        verdict = t(f"ui.verdict_word.{gpu['verdict']}") if gpu.get("verdict") else "?"
        rows.append((str(gpu.get("index")), str(gpu.get("name")), f"{cc or '?'} ({arch})", memory,
                     verdict, coverage, str(raw.get("uuid") or "-")))
    if not rows:
        empty = "ui.gpu_unknown" if facts.get("gpu_origin") == "unknown" else "ui.no_gpu"
        return Section("gpus", t("ui.gpus"), pairs=((t("ui.gpu"), t(empty)),))
    return Section("gpus", t("ui.gpus"), header=("#", t("report.col.name"), t("report.col.cc"), t("report.col.memory"),
                                                 t("ui.verdict"), t("ui.coverage"), "UUID"), rows=tuple(rows))


def _system(envelope: Dict[str, Any], report: Dict[str, Any], t: Any) -> Section:
    facts = envelope.get("facts") or {}
    lang = envelope.get("lang") or "en"
    system = report.get("system") or {}
    origin = envelope_origin(facts)
    examiner = origin is not None and origin["foreign"] and origin["gpu_origin"] != "override"
    os_label = "report.os_examiner" if examiner else "report.os"
    pairs: List[Tuple[str, str]] = [(t(os_label), f"{system.get('os', '?')} ({system.get('machine', '?')})")]
    driver = (facts.get("gpu") or {}).get("driver")
    if driver:
        text = t("ui.driver_cuda", version=driver.get("version"), cuda=driver.get("cuda_version")) \
            if driver.get("cuda_version") else str(driver.get("version"))
        pairs.append((t("ui.driver"), f"{text} [{driver.get('source')}]"))
    else:
        pairs.append((t("ui.driver"), t("ui.none")))
    runtime = facts.get("runtime")
    if runtime:
        version = runtime.get('python_version') or t("ui.unknown_version")
        layout = str(runtime.get("layout"))
        layout = t(f"ui.layout.{layout}") if has_message(lang, f"ui.layout.{layout}") else layout
        pairs.append((t("ui.runtime"), f"{runtime.get('root')} ({layout}, "
                                       f"{runtime.get('platform')}, Python {version})"))
    if origin is not None:
        pairs.insert(0, (t("ui.origin"), origin_line(lang, origin["platform"], origin["host"], origin["gpu_origin"])))
    torch = facts.get("torch")
    if torch:
        pairs.append((t("ui.torch"), f"{torch.get('version')} (CUDA {torch.get('cuda') or '-'}, "
                                     f"cuDNN {torch.get('cudnn') or '-'})"))
    else:
        pairs.append((t("ui.torch"), t("ui.none")))
    for dist in facts.get("distributions") or []:
        if dist.get("name") in ("torchaudio", "torchvision", "onnxruntime-gpu", "onnxruntime", "xformers"):
            pairs.append((str(dist.get("name")), str(dist.get("version"))))
    live = facts.get("live")
    if live:
        value = display_params(lang, {"status": str(live.get("status"))})["status"]
        if live.get("cuda_available") is not None:
            value += f", torch.cuda.is_available() = {live.get('cuda_available')}"
        if live.get("arch_list"):
            value += f", {' '.join(live['arch_list'])}"
        if live.get("error"):
            value += f" — {localize_line(lang, str(live['error']))}"
        pairs.append((t("ui.live"), value))
    pairs.append((t("report.matrix"), str(envelope.get("matrix") or "-")))
    return Section("system", t("report.system"), pairs=tuple(pairs))


def _coverage(envelope: Dict[str, Any], t: Any) -> Optional[Section]:
    binaries = (envelope.get("facts") or {}).get("binaries") or []
    if not binaries:
        return None
    rows = []
    for item in binaries:
        sass = " ".join(sorted(item.get("sass") or {}, key=arch_order))
        ptx = " ".join(sorted(item.get("ptx") or {}, key=arch_order))
        rows.append((str(item.get("path")), sass or "-", ptx or "-", str(item.get("error") or "")))
    header = (t("report.col.file"), "SASS", "PTX", t("report.col.error"))
    return Section("coverage", t("report.coverage"), header=header, rows=tuple(rows), collapsed=len(rows) > 8)


def _doctor(report: Dict[str, Any], t: Any) -> Optional[Section]:
    doctor = report.get("doctor") or {}
    if not doctor.get("requested"):
        return Section("doctor", t("report.doctor"), note=t("report.doctor.not_requested"))
    if not doctor.get("available"):
        return Section("doctor", t("report.doctor"), note=str(doctor.get("reason", "")))
    if doctor.get("error"):
        return Section("doctor", t("report.doctor"), text=str(doctor["error"]))
    rows = tuple((str(s.get("name")), str(s.get("status")), str(s.get("summary") or ""))
                 for s in doctor.get("smoke") or [] if isinstance(s, dict))
    header = (t("report.col.test"), t("ui.severity"), t("report.col.result"))
    return Section("doctor", t("report.doctor"), header=header, rows=rows,
                   note=f"{t('ui.verdict')}: {doctor.get('verdict', '?')}")


def _upgrade(report: Dict[str, Any], t: Any) -> Optional[Section]:
    """The last upgrade tried here (by fix) and its transaction log: why B failed, for the helper."""
    upgrade = report.get("upgrade") or {}
    if not isinstance(upgrade, dict) or not upgrade:
        return None
    found = upgrade.get("attempt")
    attempt: dict = found if isinstance(found, dict) else {}
    pairs = []
    for key in ("when", "status", "exit_code", "reason", "mirror", "wheelhouse"):
        if attempt.get(key) not in (None, ""):
            pairs.append((t(f"report.upgrade.{key}"), str(attempt[key])))
    if upgrade.get("log"):
        pairs.append((t("report.upgrade.log"), str(upgrade["log"])))
    return Section("upgrade", t("report.upgrade"), pairs=tuple(pairs))


def _gptsovits(report: Dict[str, Any], t: Any) -> Section:
    state = report.get("gptsovits") or {}
    if state.get("bundle") is False or not state.get("root"):
        note = t("report.gptsovits.no_bundle", root=state.get("root") or "-")
        return Section("gptsovits", t("report.gptsovits"), note=note)
    if not state.get("files"):
        note = t("report.gptsovits.none", root=state.get("root") or "-")
        return Section("gptsovits", t("report.gptsovits"), note=note)
    pairs: List[Tuple[str, str]] = [(t("report.folder"), str(state.get("root")))]
    for key, value in (state.get("settings") or {}).items():
        pairs.append((f"tts_infer.yaml {key}", str(value)))
    for name, launcher in (state.get("launchers") or {}).items():
        for var, value in (launcher.get("env") or {}).items():
            pairs.append((f"{name}: {var}", str(value)))
        for line in launcher.get("python") or []:
            pairs.append((f"{name}: python", str(line)))
    pairs.append((t("report.files"), ", ".join(state.get("files") or [])))
    return Section("gptsovits", t("report.gptsovits"), pairs=tuple(pairs))


def _logs(report: Dict[str, Any], lang: str, t: Any) -> List[Section]:
    sections = []
    for index, log in enumerate(report.get("logs") or [], start=1):
        title = f"{t('report.log')} {index}: {log.get('path')}"
        if log.get("error"):
            sections.append(Section(f"log{index}", title, note=str(log["error"])))
            continue
        pairs = [(t("report.log.size"), t("report.log.bytes", bytes=log.get("bytes", 0))
                  + (f" — {t('report.log.tail_only')}" if log.get("truncated") else ""))]
        explain = log.get("explain")
        if isinstance(explain, dict) and explain:
            words = explanation_texts(explain, lang)  # from its code, in the reader's language
            pairs.append((t("report.explain"), " — ".join(text for text in (str(explain.get("code") or ""),
                                                                            words["title"]) if text)))
            for key in ("cause", "fix"):
                if words[key]:
                    pairs.append((t(f"report.explain.{key}"), words[key]))
        error = log.get("recent_error")
        sections.append(Section(f"log{index}", title, pairs=tuple(pairs),
                                text=error or "", note="" if error else t("report.log.no_error")))
    return sections


def _environment(report: Dict[str, Any], t: Any) -> Optional[Section]:
    env = report.get("environment") or {}
    if not env:
        return None
    return Section("environment", t("report.environment"), pairs=tuple((k, str(v)) for k, v in env.items()),
                   collapsed=True)


def _packages(envelope: Dict[str, Any], t: Any) -> Optional[Section]:
    dists = (envelope.get("facts") or {}).get("distributions") or []
    if not dists:
        return None
    shown = dists[:MAX_PACKAGES_SHOWN]
    note = t("report.more_in_zip", count=len(dists) - len(shown)) if len(dists) > len(shown) else ""
    return Section("packages", t("report.packages", count=len(dists)),
                   text="\n".join(f"{d.get('name')}=={d.get('version')}" for d in shown), note=note, collapsed=True)


def _files(report: Dict[str, Any], t: Any) -> Optional[Section]:
    files = report.get("evidence") or []
    if not files:
        return None
    return Section("files", t("report.files_in_zip"), header=(t("report.col.file"), t("report.col.bytes")),
                   rows=tuple((str(f.get("path")), str(f.get("bytes"))) for f in files), collapsed=True)
