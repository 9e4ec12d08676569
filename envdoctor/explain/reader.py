"""Stream a log as blocks of text lines in bounded memory.

Logs from Windows GPT-SoVITS bundles come as UTF-8, as the Chinese ANSI code page (GBK, read as its
superset GB18030), or as UTF-16 (PowerShell 5's `>` redirection; UTF-32 with `Out-File -Encoding
utf32`), sometimes mixed line by line when several programs wrote into one file. Which one is
envdoctor.fileio.textcodec's call (the same as the report's); streaming is this module's own. A block (about
CHUNK bytes of whole lines) is decoded as UTF-8 in one go; a block that is not valid UTF-8 is decoded
line by line (UTF-8 where valid, else GB18030). Lines longer than MAX_LINE are cut (the rest of that
line is skipped, not kept), so a 2 GB log or a 2 GB line costs the same memory as a small one. Matching
then runs over whole blocks (regular expressions in C), not line by line in Python: a 2 GB log takes
seconds to a minute.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterator, List, Tuple

from envdoctor.fileio.textcodec import code_unit, detect

CHUNK = 1 << 20
MAX_LINE = 64 * 1024
HEAD = 8192
# Anchored at line starts so the search stays linear in the block size.
_LONG_BYTES = re.compile(rb"(?m)^[^\n]{%d,}" % (MAX_LINE + 1))
_LONG_TEXT = re.compile(r"(?m)^[^\n]{" + str(MAX_LINE + 1) + ",}")


@dataclass
class ReadStats:
    kind: str = "text"  # "text" | "binary" | "empty"
    encoding: str = "utf-8"  # of the whole input: "utf-8" | "gb18030" | "mixed" | "utf-16-le" | "utf-32-be" ...
    bytes_read: int = 0
    lines: int = 0
    truncated_lines: int = 0
    per_encoding: Dict[str, int] = field(default_factory=dict)

    def count(self, encoding: str, n: int = 1) -> None:
        self.per_encoding[encoding] = self.per_encoding.get(encoding, 0) + n

    def settle(self) -> None:
        if code_unit(self.encoding) > 1:
            return
        if self.per_encoding.get("gb18030"):
            self.encoding = "mixed" if self.per_encoding.get("utf-8") else "gb18030"
        else:
            self.encoding = "utf-8"


@dataclass(frozen=True)
class Block:
    first_line: int  # number of the block's first line (1-based)
    text: str  # whole lines joined by "\n", line endings removed ("\r\n" -> "\n"), no final "\n"


_TEXT_CONTROLS = set(b"\t\n\r\x0c\x1b\x08")


def sniff(head: bytes) -> Tuple[str, str]:
    """(kind, encoding) from the first bytes: BOMs and UTF-16 without BOM (textcodec.detect), binary
    data, empty."""
    if not head:
        return "empty", "utf-8"
    encoding, _bom = detect(head)
    if encoding:
        return "text", encoding
    if b"\x00" in head:
        return "binary", ""
    controls = sum(1 for b in head if b < 0x20 and b not in _TEXT_CONTROLS)
    if controls > len(head) * 0.05:
        return "binary", ""
    return "text", "utf-8"


def _cut_long(data, pattern, stats: ReadStats):
    """Cut every line longer than MAX_LINE (bytes or text, whichever `data` is)."""
    if pattern.search(data) is None:
        return data

    def cut(match):
        stats.truncated_lines += 1
        return match.group(0)[:MAX_LINE]

    return pattern.sub(cut, data)


def _decode_block(raw: bytes, stats: ReadStats) -> str:
    try:
        text = raw.decode("utf-8")
        stats.count("utf-8" if not raw.isascii() else "ascii")
        return text
    except UnicodeDecodeError:
        pass
    lines: List[str] = []
    for line in raw.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
            if not line.isascii():
                stats.count("utf-8")
        except UnicodeDecodeError:
            stats.count("gb18030")
            lines.append(line.decode("gb18030", errors="replace"))
    return "\n".join(lines)


def _byte_blocks(stream: BinaryIO, head: bytes, stats: ReadStats) -> Iterator[str]:
    pending = head
    skipping = False  # inside a line already cut at MAX_LINE: drop bytes until its newline
    while True:
        chunk = stream.read(CHUNK)
        if chunk:
            stats.bytes_read += len(chunk)
            pending += chunk
        if skipping:
            end = pending.find(b"\n")
            if end < 0:
                pending = b""
                if not chunk:
                    return
                continue
            pending = pending[end + 1:]
            skipping = False
        last = pending.rfind(b"\n")
        if last >= 0 and (chunk == b"" or len(pending) >= CHUNK):
            whole, pending = pending[:last], pending[last + 1:]
            yield _decode_block(_cut_long(whole, _LONG_BYTES, stats), stats)
        if len(pending) > MAX_LINE and pending.find(b"\n") < 0:
            # One line longer than the limit: keep its head, skip the rest of it.
            stats.truncated_lines += 1
            yield _decode_block(pending[:MAX_LINE], stats)
            pending, skipping = b"", True
        if not chunk:
            if pending:
                yield _decode_block(_cut_long(pending, _LONG_BYTES, stats), stats)
            return


def _wide_blocks(stream: BinaryIO, head: bytes, encoding: str, stats: ReadStats) -> Iterator[str]:
    """UTF-16 or UTF-32 (`head` without its BOM), decoded incrementally: a code unit or a surrogate
    pair split between two reads is joined by the decoder."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = decoder.decode(head)
    skipping = False
    while True:
        chunk = stream.read(CHUNK)
        if chunk:
            stats.bytes_read += len(chunk)
            pending += decoder.decode(chunk)
        else:
            pending += decoder.decode(b"", final=True)
        if skipping:
            end = pending.find("\n")
            if end < 0:
                pending = ""
                if not chunk:
                    return
                continue
            pending = pending[end + 1:]
            skipping = False
        last = pending.rfind("\n")
        if last >= 0:
            whole, pending = pending[:last], pending[last + 1:]
            yield _cut_long(whole, _LONG_TEXT, stats)
        if len(pending) > MAX_LINE:
            stats.truncated_lines += 1
            yield pending[:MAX_LINE]
            pending, skipping = "", True
        if not chunk:
            if pending:
                yield _cut_long(pending, _LONG_TEXT, stats)
            return


def read_blocks(stream: BinaryIO, stats: ReadStats) -> Iterator[Block]:
    """Blocks of whole lines with their first line number. Sets stats.kind first: nothing comes for
    binary or empty input."""
    head = stream.read(HEAD)
    stats.bytes_read = len(head)
    stats.kind, stats.encoding = sniff(head)
    if stats.kind != "text":
        return
    body = head[detect(head)[1]:]  # without its BOM
    if code_unit(stats.encoding) > 1:
        texts: Iterator[str] = _wide_blocks(stream, body, stats.encoding, stats)
    else:
        texts = _byte_blocks(stream, body, stats)
    line = 1
    for text in texts:
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        if text.endswith("\r"):
            text = text[:-1]
        yield Block(line, text)
        line += text.count("\n") + 1
        stats.lines = line - 1
    stats.settle()


def read_lines(stream: BinaryIO, stats: ReadStats) -> Iterator[Tuple[int, str]]:
    """(1-based line number, text) of every line: the simple view, for callers that want lines."""
    for block in read_blocks(stream, stats):
        for offset, text in enumerate(block.text.split("\n")):
            yield block.first_line + offset, text
