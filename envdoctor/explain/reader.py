"""Stream a log as (line number, text) pairs in bounded memory.

Logs from Windows GPT-SoVITS bundles come as UTF-8, as the Chinese ANSI code page (GBK, read as its
superset GB18030), or as UTF-16 (PowerShell 5's `>` redirection), sometimes mixed line by line when
several programs wrote into one file. Each line is decoded on its own: UTF-8 if it is valid UTF-8,
otherwise GB18030. Lines longer than MAX_LINE are cut (the rest of that line is skipped, not kept),
so a 2 GB log or a 2 GB line costs the same memory as a small one.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterator, Tuple

CHUNK = 1 << 20
MAX_LINE = 64 * 1024
HEAD = 8192


@dataclass
class ReadStats:
    kind: str = "text"  # "text" | "binary" | "empty"
    encoding: str = "utf-8"  # of the whole input: "utf-8" | "gb18030" | "mixed" | "utf-16-le" ...
    bytes_read: int = 0
    lines: int = 0
    truncated_lines: int = 0
    per_encoding: Dict[str, int] = field(default_factory=dict)

    def count(self, encoding: str) -> None:
        self.per_encoding[encoding] = self.per_encoding.get(encoding, 0) + 1

    def settle(self) -> None:
        if self.encoding.startswith("utf-16"):
            return
        used = [name for name, n in self.per_encoding.items() if n]
        if "gb18030" in used:
            self.encoding = "gb18030" if used == ["gb18030"] or set(used) <= {"gb18030", "ascii"} else "mixed"
        else:
            self.encoding = "utf-8"


_TEXT_CONTROLS = set(b"\t\n\r\x0c\x1b\x08")


def sniff(head: bytes) -> Tuple[str, str]:
    """(kind, encoding) from the first bytes: BOMs, UTF-16 without BOM, binary data, empty."""
    if not head:
        return "empty", "utf-8"
    if head.startswith(codecs.BOM_UTF8):
        return "text", "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "text", "utf-16-le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "text", "utf-16-be"
    sample = head[: len(head) - (len(head) % 2)]
    if len(sample) >= 4:
        even_nul = sample[0::2].count(0) / (len(sample) / 2)
        odd_nul = sample[1::2].count(0) / (len(sample) / 2)
        # ASCII-heavy UTF-16 text has a NUL in every other byte and almost none in the rest.
        if odd_nul > 0.3 and even_nul < 0.05:
            return "text", "utf-16-le"
        if even_nul > 0.3 and odd_nul < 0.05:
            return "text", "utf-16-be"
    if b"\x00" in head:
        return "binary", ""
    controls = sum(1 for b in head if b < 0x20 and b not in _TEXT_CONTROLS)
    if controls > len(head) * 0.05:
        return "binary", ""
    return "text", "utf-8"


def _decode(raw: bytes, stats: ReadStats) -> str:
    try:
        text = raw.decode("utf-8")
        stats.count("ascii" if raw.isascii() else "utf-8")
        return text
    except UnicodeDecodeError:
        stats.count("gb18030")
        return raw.decode("gb18030", errors="replace")


def _byte_lines(stream: BinaryIO, head: bytes, stats: ReadStats) -> Iterator[bytes]:
    buffer = head
    skipping = False  # inside a line that was already cut at MAX_LINE
    while True:
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if skipping:
                skipping = False
            else:
                yield buffer[start:end]
            start = end + 1
        rest = buffer[start:]
        if len(rest) > MAX_LINE:
            if not skipping:
                stats.truncated_lines += 1
                yield rest[:MAX_LINE]
            skipping = True
            rest = b""
        chunk = stream.read(CHUNK)
        if not chunk:
            if rest and not skipping:
                yield rest
            return
        stats.bytes_read += len(chunk)
        buffer = rest + chunk


def _utf16_lines(stream: BinaryIO, head: bytes, encoding: str, stats: ReadStats) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = decoder.decode(head[2:] if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else head)
    skipping = False
    while True:
        parts = pending.split("\n")
        pending = parts.pop()
        for part in parts:
            if skipping:
                skipping = False
                continue
            yield part
        if len(pending) > MAX_LINE:
            if not skipping:
                stats.truncated_lines += 1
                yield pending[:MAX_LINE]
            skipping = True
            pending = ""
        chunk = stream.read(CHUNK)
        if not chunk:
            pending += decoder.decode(b"", final=True)
            if pending and not skipping:
                yield pending
            return
        stats.bytes_read += len(chunk)
        pending += decoder.decode(chunk)


def read_lines(stream: BinaryIO, stats: ReadStats) -> Iterator[Tuple[int, str]]:
    """(1-based line number, text without line ending). Sets stats.kind first: nothing comes for
    binary or empty input."""
    head = stream.read(HEAD)
    stats.bytes_read = len(head)
    stats.kind, stats.encoding = sniff(head)
    if stats.kind != "text":
        return
    if stats.encoding.startswith("utf-16"):
        source: Iterator[str] = _utf16_lines(stream, head, stats.encoding, stats)
    else:
        if stats.encoding == "utf-8-sig":
            head = head[3:]
        source = (_decode(raw, stats) for raw in _byte_lines(stream, head, stats))
    for number, text in enumerate(source, 1):
        stats.lines = number
        yield number, text.rstrip("\r")
    stats.settle()
