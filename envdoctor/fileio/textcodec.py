"""Turning the bytes of a user's text file into text, whatever Windows wrote them in.

The encodings met in GPT-SoVITS bundles: UTF-8 (with or without a BOM), GBK/GB18030 (the ANSI code
page of Chinese Windows: .bat files, console logs), UTF-16 LE/BE (what PowerShell's `>` and
`Out-File` write; with a BOM, or without one when a tail was cut from the middle) and, rarely, UTF-32
with a BOM (`Out-File -Encoding utf32`). Redaction and error matching work on text: a UTF-16 file read
as UTF-8 keeps a NUL between every letter and no pattern matches it, so it would leave the report
unredacted.

This is the one place that tells an encoding from bytes (`detect`): explain's streaming reader, the
report's log tails and evidence copies, and configure's text files all ask it, so that one log reads
the same everywhere. What stays theirs: streaming (explain), a tail cut mid-file (report logs), an
exact byte-for-byte round trip (report file shapes), refusing what cannot be edited (configure).
"""

from __future__ import annotations

import codecs
import re
from typing import Any, Tuple

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def bom_encoding(data: bytes) -> Tuple[str, int]:
    """(encoding, BOM length) when data starts with a BOM, else ("", 0)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return "", 0


def bom_of(encoding: str) -> bytes:
    """The BOM that `bom_encoding` reads as `encoding` ("utf-8-sig" or "utf-8" both give UTF-8's)."""
    wanted = "utf-8-sig" if encoding == "utf-8" else encoding
    return next((bom for bom, name in _BOMS if name == wanted), b"")


def code_unit(encoding: str) -> int:
    """Bytes per code unit: 4 for UTF-32, 2 for UTF-16, 1 for a byte encoding (where a cut may fall)."""
    return 4 if encoding.startswith("utf-32") else 2 if encoding.startswith("utf-16") else 1


def detect(head: bytes) -> Tuple[str, int]:
    """(encoding, BOM length) of text that starts with `head`: the BOM's encoding, else UTF-16 told by
    its NULs (BOM length 0), else ("", 0): a byte encoding (UTF-8 or GB18030), which only decoding
    tells, line by line where a log mixes them."""
    encoding, skip = bom_encoding(head)
    if encoding:
        return encoding, skip
    return utf16_without_bom(head), 0


def utf16_without_bom(data: bytes) -> str:
    """"utf-16-le"/"utf-16-be" when the bytes look like UTF-16 text without a BOM: most characters of
    logs are ASCII, so one byte of each pair is NUL. "" otherwise."""
    sample = data[:65536]
    pairs = len(sample) // 2
    if pairs < 2:
        return ""
    even_nul = sum(1 for i in range(0, pairs * 2, 2) if sample[i] == 0)
    odd_nul = sum(1 for i in range(1, pairs * 2, 2) if sample[i] == 0)
    if odd_nul >= pairs * 0.3 and even_nul <= pairs * 0.05:
        return "utf-16-le"
    if even_nul >= pairs * 0.3 and odd_nul <= pairs * 0.05:
        return "utf-16-be"
    return ""


def decode_text(data: bytes, utf16_odd_start: bool = False) -> Tuple[str, str]:
    """(text, encoding name). Never fails: bytes no encoding explains are replaced (U+FFFD).

    `utf16_odd_start`: the bytes are a tail cut at an odd offset of the file (the first byte belongs
    to the previous character), which matters only when the content is UTF-16."""
    encoding, skip = bom_encoding(data)
    if encoding:
        return data[skip:].decode(encoding, errors="replace"), encoding
    guess = utf16_without_bom(data[1:] if utf16_odd_start else data)
    if guess:
        body = data[1:] if utf16_odd_start else data
        return body[:len(body) - len(body) % 2].decode(guess, errors="replace"), guess
    for name in ("utf-8", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), "utf-8 (damaged)"


# Bytes os.fsdecode could not decode come back as one surrogate each (U+DC80..U+DCFF). A path component
# (or word) holding such bytes: GBK bytes may also read as valid UTF-8 pairs
# ("整合包" is D5 FB BA CF B0 FC, and CF B0 is U+03F0), so the whole component is decoded at once.
_ESCAPED_WORD = re.compile("[^/\\\\\\s]*[\udc80-\udcff][^/\\\\\\s]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _gbk_word(match: re.Match) -> str:
    raw = match.group().encode("utf-8", "surrogateescape")
    try:
        return raw.decode("gb18030")  # a superset of GBK
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def readable_name(text: str) -> str:
    """A name from the file system as a person reads it. On Linux, a folder or log named in GBK (copied
    from Chinese Windows) comes back from os.listdir with its bytes as lone surrogates, which no UTF-8
    output can hold: each path component holding them is decoded as GB18030 (a superset of GBK), else
    its undecodable bytes are replaced; the rest of the text is left as it is."""
    if not _SURROGATE.search(text):
        return text
    text = _ESCAPED_WORD.sub(_gbk_word, text)
    return text.encode("utf-8", "replace").decode("utf-8")  # any other lone surrogate (from JSON, say)


def readable(value: Any) -> Any:
    """readable_name on every string (keys too) of a JSON-like tree."""
    if isinstance(value, str):
        return readable_name(value)
    if isinstance(value, dict):
        return {readable(k): readable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [readable(v) for v in value]
    return value
