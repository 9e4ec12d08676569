"""The support report as data: the check envelope plus a `report` section and the evidence files.

envdoctor/support/gather.py reads everything into a Document, `redact_document` removes personal data
and secrets from all of it, and only the redacted document reaches the renderers (markdown.py,
html.py) and the zip (bundle.py). Nothing here runs a check or reads the machine.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from envdoctor import envelope as envelopes
from envdoctor.fileio.textcodec import readable, readable_name
from envdoctor.report.check_data import REPORT_SCHEMAS
from envdoctor.report.fileshape import FileShape
from envdoctor.report.redact import Redactor

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Document:
    envelope: Dict[str, Any]
    evidence: Dict[str, str]  # path inside the zip -> text
    # Evidence copied from the user's files: written back in its own encoding, BOM and line endings
    # (files without a shape are written as UTF-8).
    shapes: Dict[str, FileShape] = field(default_factory=dict)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def redact_document(document: Document, redactor: Redactor) -> Document:
    # Names read from the disk first become text (a GBK folder name on Linux is lone surrogates that
    # no UTF-8 file can hold), then everything is redacted.
    envelope = redactor.value(readable(document.envelope))
    envelope["report"]["redacted"] = redactor.enabled
    files = {redactor.text(readable_name(path)): redactor.text(readable_name(text))
             for path, text in document.evidence.items()}
    shapes = {redactor.text(readable_name(path)): shape for path, shape in document.shapes.items()}
    return Document(envelope, files, shapes)


def facts_evidence(envelope: Dict[str, Any]) -> Dict[str, str]:
    """Evidence files that restate the (already redacted) envelope's facts as separate JSON files."""
    facts = envelope.get("facts") or {}
    files = {}
    if facts.get("live"):
        files["evidence/live-probe.json"] = _json_text(facts["live"])
    if facts.get("gpu"):
        files["evidence/gpu-probe.json"] = _json_text(facts["gpu"])
    if facts.get("binaries"):
        files["evidence/scan.json"] = _json_text(facts["binaries"])
    return files


def index_evidence(envelope: Dict[str, Any], files: Mapping[str, bytes],
                   shapes: Optional[Mapping[str, FileShape]] = None) -> Dict[str, Any]:
    """The envelope with the list of evidence files the zip holds: path, size and, for copies of the
    user's files, the shape they were written in (encoding, BOM, line endings)."""
    listing = []
    for path, data in sorted(files.items()):
        entry: Dict[str, Any] = {"path": path, "bytes": len(data)}
        shape = (shapes or {}).get(path)
        if shape is not None:
            entry.update(shape.to_json())
        listing.append(entry)
    return dict(envelope, report=dict(envelope.get("report") or {}, evidence=listing))


def evidence_shapes(envelope: Dict[str, Any]) -> Dict[str, FileShape]:
    """The shapes a report.json recorded for its evidence files (to read them back: report --from)."""
    shapes = {}
    for entry in (envelope.get("report") or {}).get("evidence") or []:
        shape = FileShape.from_json(entry) if isinstance(entry, dict) else None
        if shape is not None and isinstance(entry.get("path"), str):
            shapes[entry["path"]] = shape
    return shapes


def relocalize(envelope: Dict[str, Any], lang: str) -> Dict[str, Any]:
    """The same envelope for a reader of LANG (`report --from`). The renderers draw every text from its
    code (findings, the verdict, a log's known error); this only brings report.json's stored copies of
    those texts (kept for readers of the JSON and older versions) into the same language."""
    from envdoctor.report.explained import explanation_texts
    from envdoctor.report.view import rendered_findings, summary_text

    result = dict(envelope, lang=lang, summary=summary_text(envelope, lang), findings=rendered_findings(envelope, lang))
    report = envelope.get("report")
    if isinstance(report, dict) and isinstance(report.get("logs"), list):
        logs = [dict(log, explain=dict(log["explain"], **explanation_texts(log["explain"], lang)))
                if isinstance(log, dict) and isinstance(log.get("explain"), dict) else log
                for log in report["logs"]]
        result["report"] = dict(report, logs=logs)
    return result


def current_head(document: Document) -> Document:
    """The document under this version's envelope head (a report read back may be older)."""
    old = document.envelope
    body = {k: v for k, v in old.items() if k not in envelopes.HEAD}
    return dataclasses.replace(document, envelope=envelopes.write("report", str(old.get("lang") or "en"), 0, body))


def is_report_envelope(data: Any) -> bool:
    return isinstance(data, dict) and data.get("schema") in REPORT_SCHEMAS and isinstance(data.get("report"), dict)


MAX_EVIDENCE_MEMBER_BYTES = 16 * 1024 * 1024  # what `report` writes is far smaller (64 KiB log tails)
MAX_EVIDENCE_TOTAL_BYTES = 64 * 1024 * 1024
MAX_EVIDENCE_MEMBERS = 2000
