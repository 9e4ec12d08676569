"""envdoctor's own short English lines, shown in the reader's language.

Finding evidence is data: a `model.Line` is its English text (--json, support and scripts read it as
written) with its catalogue key (`line.*`) and parameters, and `say` renders it from those. The probes
write their reasons and attempts as Lines too (the live probe's reason, the GPU probe's attempts, an
upgrade's verify steps), and the GPU cache keeps them as data. A plain string is quoted text (an error
message from torch or a tool, a cited source), or one of those probe lines come back as text from a JSON
file (a report.json read back, a finding's parameters, an upgrade's journal): for those alone,
`localize_line` recognises the few shapes they take and says them with the catalogue's `line.*` message;
any other string is shown as it is.

Some parameters of finding texts are words from a fixed set (the `source` of a coverage answer:
scan, live, matrix) or one of those lines (a `reason`); `display_params` shows those in the language.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Tuple

from envdoctor.i18n import has_message, message
from envdoctor.model import Line

# The shapes of the lines probes write into their facts (read back from caches as plain strings):
# (pattern, message key); the named groups are the message's parameters. First match wins.
_SHAPES: List[Tuple[re.Pattern[str], str]] = [(re.compile(p), key) for p, key in (
    (r"^a (?P<platform>\w+) runtime cannot run on (?P<host>\w+)$", "line.runtime_foreign"),
    (r"^a (?P<platform>\w+) bundle examined on (?P<host>\w+): this machine's GPU is not its user's$",
     "line.bundle_machine"),
    (r"^torch is not installed in this runtime$", "line.no_torch"),
    (r"^no answer within (?P<seconds>\d+) s$", "line.no_answer"),
    (r"^the runtime's torch is being read in the background; the next check uses it$", "line.live_background"),
    (r"^(?P<count>\d+) GPU\(s\)$", "line.gpu_count"),
    (r"^driver files unchanged since the last answer$", "line.gpu_cache"),
    (r"^--assume-gpu/--assume-driver$", "line.assumed"),
    (r"^no GPU$", "line.no_gpu"),
    (r"^simulated GPUs \(ENVDOCTOR_GPUS\) cannot run kernels$", "line.simulated_gpus"),
    (r"^(?P<source>[a-z][a-z-]*): (?P<detail>.*)$", "line.probe_attempt"),
)]

_GAPS = re.compile(r"  +")
_GAP_BEFORE = re.compile(r" (?=[：，。）；])")

# Parameters whose values are words from a fixed set, and the catalogue prefix of their labels.
_WORD_PARAMS = {"source": "ui.source.", "coverage": "ui.coverage.", "status": "ui.live.status."}
# Parameters that hold one of envdoctor's lines (live-skipped's reason).
_LINE_PARAMS = ("reason",)
# Parameters that quote a program's own message (torch's error, a crashed rule's exception): shown in
# quotation marks, so a reader sees what is quoted and what is said to them.
_QUOTED_PARAMS = ("error", "detail")


def localize_line(lang: str, line: str) -> str:
    """LINE in LANG: an envdoctor `Line` from its key; text where it has one of envdoctor's shapes (it came
    back from JSON); itself otherwise (and always in English)."""
    if lang == "en":
        return line
    if isinstance(line, Line):
        return say(lang, line)
    for pattern, key in _SHAPES:
        match = pattern.match(line)
        if match:
            params = match.groupdict()
            for name in ("detail",):  # nested envdoctor text ("bundle-machine: a windows bundle examined ...")
                if params.get(name):
                    params[name] = localize_line(lang, params[name])
            return message(lang, key, **_words(lang, params)).strip()
    return line


def say(lang: str, line: str) -> str:
    """An evidence LINE in LANG: one of envdoctor's own (`Line`) from its key and parameters; a plain
    string (quoted text, or a line read back from JSON) through `localize_line`."""
    if not isinstance(line, Line):
        return localize_line(lang, line)
    if lang == "en":
        return str(line)
    params = {name: say(lang, value) if isinstance(value, Line)
              else message(lang, "ui.quoted", text=value) if name == "error" and isinstance(value, str) and value
              else localize_line(lang, value) if name in ("line", "detail") and isinstance(value, str) else value
              for name, value in line.params.items()}
    # An empty optional part (no exit code, no stage) leaves no gap: "失败 （...）" reads "失败（...）".
    params = dict(_finding_named(lang, params))  # a finding's code is said as its title
    return _GAP_BEFORE.sub("", _GAPS.sub(" ", message(lang, line.key, **_words(lang, params)))).strip()


def display_params(lang: str, params: Mapping[str, Any]) -> Dict[str, Any]:
    """A finding's PARAMS for its texts in LANG (English: as they are): fixed-set words (source, coverage,
    status) as their labels, envdoctor's lines localized, quoted program messages in quotation marks."""
    params = _finding_named(lang, params)
    if lang == "en":
        return dict(params)
    shown = _words(lang, params)
    for name in _QUOTED_PARAMS:
        value = shown.get(name)
        if isinstance(value, str) and value.strip() and not isinstance(value, Line):
            shown[name] = message(lang, "ui.quoted", text=value)
    for name, value in shown.items():
        if isinstance(value, Line):  # one of envdoctor's lines ("default device", a probe's reason): said, not quoted
            shown[name] = say(lang, value)
    sources = shown.get("sources")
    if isinstance(sources, str):  # "live=none, matrix=ptx-jit" (coverage answers that disagree)
        shown["sources"] = "、".join(_source_pair(lang, pair) for pair in sources.split(", "))
    return shown


def _finding_named(lang: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """A finding that names another (blocker-unverified's `finding`): that one's title, in words, for
    the reader; the code stays in the finding's params (--json)."""
    code = params.get("finding")
    key = f"finding.{code}.title"
    if not isinstance(code, str) or not has_message(lang, key):
        return params
    rest = {k: v for k, v in params.items() if k != "finding"}
    return dict(params, finding=message(lang, key, **display_params(lang, rest)))


def _words(lang: str, params: Mapping[str, Any]) -> Dict[str, Any]:
    shown = dict(params)
    for name, prefix in _WORD_PARAMS.items():
        value = shown.get(name)
        if isinstance(value, str) and has_message(lang, prefix + value):
            shown[name] = message(lang, prefix + value)
    for name in _LINE_PARAMS:
        if isinstance(shown.get(name), str) and not isinstance(shown[name], Line):  # a Line is said by the caller
            shown[name] = localize_line(lang, shown[name])
    return shown


def _source_pair(lang: str, pair: str) -> str:
    source, _, coverage = pair.partition("=")
    shown = _words(lang, {"source": source, "coverage": coverage})
    return f"{shown['source']}={shown['coverage']}"
