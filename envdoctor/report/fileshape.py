"""A text file's shape: its encoding, byte-order mark and line endings, kept through redaction.

A support person looking at a report's copy of go-webui.bat must see what the user's cmd.exe sees:
a GBK file with CRLF line ends stays GBK with CRLF, a UTF-16 PowerShell script stays UTF-16. The text
is decoded with its own line endings untouched (so redaction works on text, not bytes), and encoded
back the same way: a file with nothing to redact comes out byte for byte as it went in. The shape is
recorded beside the copy in report.json. Which encoding a file is in is envdoctor.fileio.textcodec's call
(BOMs, UTF-16 without one); the round trip, and the code pages tried for it, are this module's own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

from envdoctor.fileio.textcodec import bom_encoding, bom_of, utf16_without_bom

# Tried in order for a file without a BOM. latin-1 decodes any bytes and encodes them back unchanged,
# so even a file in an unknown code page is copied exactly (its non-ASCII text just reads oddly).
_GUESSES = ("utf-8", "gbk", "gb18030", "latin-1")


@dataclass(frozen=True)
class FileShape:
    encoding: str  # a Python codec name: utf-8, gbk, gb18030, utf-16-le/-be, utf-32-le/-be, latin-1
    bom: bool
    newline: str  # "crlf", "lf", "cr", "mixed" or "none"

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: Any) -> Optional[FileShape]:
        if not isinstance(data, dict) or not isinstance(data.get("encoding"), str):
            return None
        return FileShape(data["encoding"], bool(data.get("bom")), str(data.get("newline", "none")))


def newline_style(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = [name for name, count in (("crlf", crlf), ("lf", lf), ("cr", cr)) if count]
    return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "none")


def decode(data: bytes) -> Tuple[str, FileShape]:
    """The text (line endings as they are) and the shape that encodes it back to exactly DATA."""
    candidates: List[Tuple[str, bool]] = []
    marked, _length = bom_encoding(data)
    if marked:
        candidates.append((marked.replace("-sig", ""), True))
    else:
        guessed = utf16_without_bom(data)
        if guessed:
            candidates.append((guessed, False))
        candidates.extend((encoding, False) for encoding in _GUESSES)
    for encoding, bom in candidates:
        body = data[len(bom_of(encoding)):] if bom else data
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        shape = FileShape(encoding, bom, newline_style(text))
        if encode(text, shape) == data:  # only a shape that gives the very bytes back
            return text, shape
    text = data.decode("latin-1")  # unreachable in practice: latin-1 above always round-trips
    return text, FileShape("latin-1", False, newline_style(text))


def decode_as(data: bytes, shape: FileShape) -> str:
    """DATA (written in SHAPE, e.g. a report's evidence file) as text, BOM removed."""
    body = data[len(bom_of(shape.encoding)):] if shape.bom else data
    return body.decode(shape.encoding, errors="replace")


def encode(text: str, shape: FileShape) -> bytes:
    """TEXT in SHAPE's encoding with its BOM. Raises UnicodeEncodeError where the encoding cannot hold
    it (redaction puts only ASCII in, so that means the text came from elsewhere)."""
    body = text.encode(shape.encoding)
    return (bom_of(shape.encoding) if shape.bom else b"") + body
