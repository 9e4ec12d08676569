"""Log files for a report: which ones, their bounded tail, and the most recent error in them.

A log can be gigabytes; only its last `TAIL_BYTES` are read (one seek), so a report stays small and
fast whatever the user points it at.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional

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


def decode(data: bytes) -> str:
    """UTF-8, else GB18030 (Chinese Windows consoles write logs in the ANSI code page), else lossy UTF-8."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def read_tail(path: str, limit: int = TAIL_BYTES) -> LogTail:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        start = max(0, size - limit)
        handle.seek(start)
        data = handle.read(limit)
    if start > 0:
        # Drop the partial first line (and a split multi-byte character with it).
        newline = data.find(b"\n")
        data = data[newline + 1:] if newline >= 0 else data
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
    return LogTail(path, size, text, truncated=start > 0)


def find_logs(root: Optional[str], limit: int = MAX_FOUND_LOGS) -> List[str]:
    """The newest *.log files of a GPT-SoVITS folder: in the folder itself and under logs/ (3 levels)."""
    if not root or not os.path.isdir(root):
        return []
    found = []
    for base, depth_limit in ((root, 0), (os.path.join(root, "logs"), 3)):
        if not os.path.isdir(base):
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
