"""Log files for a report: which ones, their bounded tail, and the most recent error in them.

A log can be gigabytes; only its last `TAIL_BYTES` are read (one seek), so a report stays small and
fast whatever the user points it at.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional

from envdoctor.fileio.safeio import open_regular
from envdoctor.fileio.textcodec import bom_encoding, code_unit, decode_text, utf16_without_bom

TAIL_BYTES = 64 * 1024
MAX_FOUND_LOGS = 3
ERROR_CHARS = 4000

_TRACEBACK = "Traceback (most recent call last):"
_FATAL = re.compile(r"(?i)\bFATAL\b|no kernel image|CUDA error|nvrtc: error|Segmentation fault|access violation")


@dataclass(frozen=True)
class LogTail:
    path: str
    size: int
    text: str
    truncated: bool  # the file is longer than the tail read


def read_tail(path: str, limit: int = TAIL_BYTES) -> LogTail:
    """The last `limit` bytes of a regular file as text. A FIFO or device is refused (OSError) without
    blocking; a UTF-16 or UTF-32 log keeps its encoding even when the tail starts mid-file (the BOM is
    read from the head, and the cut is kept on a character boundary). Encodings: envdoctor.fileio.textcodec."""

    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        head = os.read(fd, 4)  # the BOM, if any (os.pread is POSIX only)
        encoding, bom = bom_encoding(head)
        start = max(0, size - limit)
        unit = code_unit(encoding)
        if start and unit > 1:
            start += (unit - (start - bom) % unit) % unit
        os.lseek(fd, start, os.SEEK_SET)
        data = b""
        while len(data) < limit:
            chunk = os.read(fd, limit - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if start > 0 and encoding:
        text = data.decode(encoding.replace("-sig", ""), errors="replace")
        text = text[text.find("\n") + 1:] if "\n" in text else text
    elif start > 0 and utf16_without_bom(data[start % 2:]):
        text, _enc = decode_text(data, utf16_odd_start=start % 2 == 1)
        text = text[text.find("\n") + 1:] if "\n" in text else text
    elif start > 0:
        # Drop the partial first line (and a split multi-byte character with it) before decoding.
        newline = data.find(b"\n")
        text = decode_text(data[newline + 1:] if newline >= 0 else data)[0]
    else:
        text = decode_text(data)[0]
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return LogTail(path, size, text, truncated=start > 0)


def inside(path: str, root: str) -> bool:
    """Whether PATH, links resolved, lies in ROOT (links resolved too): a log or launcher that is a link
    out of the bundle (to /proc/self/environ, to another user's files) is not the bundle's."""
    try:
        real, top = os.path.realpath(path), os.path.realpath(root)
    except (OSError, ValueError):
        return False
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def find_logs(root: Optional[str], limit: int = MAX_FOUND_LOGS) -> List[str]:
    """The newest *.log files of a GPT-SoVITS folder: in the folder itself (a WebUI console saved with
    `go-webui.bat > webui.log`), under logs/ (3 levels: GPT-SoVITS' exp_root, where its training writes
    logs/<experiment>/train.log) and in GPT_SoVITS/logs/. Only files that are in the folder: never
    through a link that leaves it. The caller decides that ROOT is a GPT-SoVITS folder."""
    if not root or not os.path.isdir(root):
        return []
    found = []
    for base, depth_limit in ((root, 0), (os.path.join(root, "logs"), 3),
                              (os.path.join(root, "GPT_SoVITS", "logs"), 1)):
        if not os.path.isdir(base) or not inside(base, root):
            continue
        for current, dirs, files in os.walk(base):
            depth = os.path.relpath(current, base).count(os.sep) + (0 if current == base else 1)
            if depth >= depth_limit:
                dirs[:] = []
            dirs.sort()
            for name in files:
                if name.lower().endswith(".log"):
                    path = os.path.join(current, name)
                    try:
                        if not os.path.isfile(path) or not inside(path, root):
                            continue  # a FIFO or device named *.log, or a link out of the bundle
                        found.append((-os.path.getmtime(path), path))
                    except OSError:
                        continue
    return [path for _mtime, path in sorted(set(found))[:limit]]


def recent_error(text: str) -> Optional[str]:
    """The last Python traceback, or the last fatal-looking line if it came later; None if neither."""
    lines = text.split("\n")
    start = max((i for i, line in enumerate(lines) if line.strip().startswith(_TRACEBACK)), default=-1)
    fatal = max((i for i, line in enumerate(lines) if _FATAL.search(line)), default=-1)
    if start < 0 and fatal < 0:
        return None
    if fatal > start and (start < 0 or fatal > _traceback_end(lines, start)):
        block = lines[max(0, fatal - 2):fatal + 1]
    else:
        block = lines[start:_traceback_end(lines, start) + 1]
    result = "\n".join(line.rstrip() for line in block).strip("\n")
    return result[-ERROR_CHARS:]


def _traceback_end(lines: List[str], start: int) -> int:
    """Index of the last line of the traceback that begins at `start` (its exception message included)."""
    index = start + 1
    while index < len(lines):
        line = lines[index]
        if line.startswith((" ", "\t")) or line.strip().startswith(_TRACEBACK) or not line.strip():
            index += 1
            continue
        if line.startswith(("During handling", "The above exception")):
            index += 1
            continue
        break
    if index >= len(lines):
        return len(lines) - 1
    # The exception line, plus the indented lines of a multi-line message (nvrtc's, for one).
    end = index
    while end + 1 < len(lines) and lines[end + 1].startswith((" ", "\t")) and end - index < 20:
        end += 1
    return end
