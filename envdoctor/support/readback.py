"""A written report read back (`report --from`): its report.json and evidence files, from the zip or from
the folder it was unpacked into, bounded like any untrusted input, re-redacted, and re-rendered in the
reader's language."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from envdoctor.errors import UsageError


def rerender(path: str, lang: Optional[str], redactor: Any) -> Tuple[Dict[str, bytes], Dict[str, Any]]:
    """(the report's files, its envelope), rendered anew from the report at PATH."""
    from envdoctor.report.bundle import render_files
    from envdoctor.report.document import current_head

    try:
        return render_files(current_head(read_back(path, lang, redactor)))
    except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as exc:
        # A report.json is a file anyone can edit: a field of the wrong type, or nesting deep
        # enough to exhaust the stack, is bad input, not an envdoctor bug.
        raise UsageError("safety.bad_report", path=path, problem=f"{type(exc).__name__}: {exc}"[:200]) from exc


def read_back(path: str, lang: Optional[str], redactor: Any) -> Any:
    import zipfile

    from envdoctor.fileio.reportfile import read_member, read_report_json
    from envdoctor.fileio.safeio import UnsafePathError, open_regular
    from envdoctor.fileio.textcodec import decode_text
    from envdoctor.report.document import (
        MAX_EVIDENCE_MEMBER_BYTES,
        MAX_EVIDENCE_MEMBERS,
        MAX_EVIDENCE_TOTAL_BYTES,
        Document,
        evidence_shapes,
        is_report_envelope,
        relocalize,
    )
    from envdoctor.report.fileshape import decode_as

    evidence: Dict[str, str] = {}
    shapes: Dict[str, Any] = {}
    try:
        envelope = read_report_json(path)
        if isinstance(envelope, dict):
            recorded = evidence_shapes(envelope)  # copies of the user's files, in their own encodings
            with os.fdopen(open_regular(path), "rb") as handle:
                if zipfile.is_zipfile(handle):
                    handle.seek(0)
                    with zipfile.ZipFile(handle) as archive:
                        names = [n for n in archive.namelist() if n.startswith("evidence/") and not n.endswith("/")]
                        if len(names) > MAX_EVIDENCE_MEMBERS:
                            raise ValueError(f"more than {MAX_EVIDENCE_MEMBERS} evidence files")
                        members = [(name, read_member(archive, name, MAX_EVIDENCE_MEMBER_BYTES))
                                   for name in names]
                else:
                    # A report.json from an unpacked zip: its evidence files lie beside it.
                    members = unpacked_evidence(path, envelope, MAX_EVIDENCE_MEMBERS, MAX_EVIDENCE_MEMBER_BYTES)
            total = 0
            for name, data in members:
                total += len(data)
                if total > MAX_EVIDENCE_TOTAL_BYTES:
                    raise ValueError(f"evidence larger than {MAX_EVIDENCE_TOTAL_BYTES >> 20} MiB")
                shape = recorded.get(name)
                if shape is not None:
                    evidence[name], shapes[name] = decode_as(data, shape), shape
                else:
                    # Decoded like any log (a hand-edited zip may hold UTF-16), so it is redacted.
                    evidence[name] = decode_text(data)[0]
    except UnsafePathError as exc:
        raise exc.as_error() from exc
    except (OSError, ValueError, KeyError, LookupError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise UsageError("report.error.from_unreadable", path=path, detail=str(exc)[:200]) from exc
    if not is_report_envelope(envelope):
        raise UsageError("report.error.from_not_report", path=path)
    if lang:
        envelope = relocalize(envelope, lang)
    document = Document(envelope, evidence, shapes)
    if redactor.enabled:
        # Redacting again is harmless (idempotent) and cleans a report that was written with --no-redact.
        from envdoctor.report.document import redact_document

        document = redact_document(document, redactor)
    return document


def unpacked_evidence(path: str, envelope: Dict[str, Any], max_members: int, max_bytes: int) -> list:
    """(name, bytes) of the evidence files report.json lists, read from beside it (missing ones skipped)."""
    from envdoctor.fileio.safeio import path_kind, read_capped

    folder = os.path.dirname(os.path.abspath(path))
    listed = [entry.get("path") for entry in (envelope.get("report") or {}).get("evidence") or []
              if isinstance(entry, dict)]
    names = [n for n in listed if isinstance(n, str) and n.startswith("evidence/")
             and ".." not in n.split("/") and "\\" not in n and ":" not in n]
    if len(names) > max_members:
        raise ValueError(f"more than {max_members} evidence files")
    members = []
    for name in names:
        file = os.path.join(folder, *name.split("/"))
        if path_kind(file) == "missing":
            continue  # report.json alone (copied without its folder): nothing to add
        members.append((name, read_capped(file, max_bytes)))
    return members
