"""The report zip: report.html, report.md, report.json first, then evidence/ in name order.

Deterministic (fixed entry order, timestamps, permissions and compression level: the same content
gives the same bytes) and atomic (written beside the target, then renamed: never a half zip).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any, Dict, Mapping, Tuple

from envdoctor.fileio.safeio import check_output_target, remove_stale_temporaries, write_output
from envdoctor.report import fileshape
from envdoctor.report.document import Document, facts_evidence, index_evidence
from envdoctor.report.fileshape import FileShape
from envdoctor.report.html import render_html
from envdoctor.report.markdown import render_markdown

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no clock in the bytes
_FIRST = ("report.html", "report.md", "report.json")
STALE_TEMPORARY_S = 60.0  # a report writes its temporary in well under a second


def envelope_json(envelope: Dict[str, Any]) -> str:
    return json.dumps(envelope, ensure_ascii=False, indent=2) + "\n"


def render_files(document: Document) -> Tuple[Dict[str, bytes], Dict[str, Any]]:
    """Every file of the zip and the final envelope, rendered from the (already redacted) document."""
    evidence = dict(document.evidence)
    evidence.update(facts_evidence(document.envelope))
    files: Dict[str, bytes] = {}
    shapes: Dict[str, FileShape] = {}
    for path, text in evidence.items():
        shape = document.shapes.get(path)
        try:
            files[path] = fileshape.encode(text, shape) if shape is not None else text.encode("utf-8")
            if shape is not None:
                shapes[path] = shape
        except UnicodeEncodeError:
            # Only possible for a text changed to hold what its encoding cannot: say it is UTF-8 now.
            files[path] = text.encode("utf-8")
            shapes[path] = FileShape("utf-8", False, fileshape.newline_style(text))
    envelope = index_evidence(document.envelope, files, shapes)
    files["report.json"] = envelope_json(envelope).encode("utf-8")
    files["report.md"] = render_markdown(envelope).encode("utf-8")
    files["report.html"] = render_html(envelope).encode("utf-8")
    return files, envelope


def ordered(files: Mapping[str, bytes]) -> list:
    first = [name for name in _FIRST if name in files]
    return first + sorted(name for name in files if name not in _FIRST)


def zip_bytes_to(handle: Any, files: Mapping[str, bytes]) -> None:
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in ordered(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever system wrote it: same bytes on Windows and Linux
            archive.writestr(info, files[name], compresslevel=9)


def write_zip(path: str, files: Mapping[str, bytes]) -> None:
    """Write atomically: the zip is built in memory (a report is bounded to a few MiB), then written
    to a temporary file in the target folder, flushed and renamed over `path`."""


    check_output_target(path)  # before any work: a device, FIFO or symlink there is refused, not replaced
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(directory, min_age_s=STALE_TEMPORARY_S)  # left by a report killed mid-write
    buffer = io.BytesIO()
    zip_bytes_to(buffer, files)
    write_output(os.path.abspath(path), buffer.getvalue())
