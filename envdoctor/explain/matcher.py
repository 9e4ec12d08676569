"""Match log lines against the matrix's known errors; keep the evidence, never the whole log.

Per known error: the first line that shows it (with the traceback frames just before it, e.g.
`File ".../kaldi.py", line 621, in fbank`), and how often it appears. Lines that merely look like
errors are kept too (at most MAX_ERROR_LINES, each at most MAX_TEXT characters), so an unknown
error still gets a useful answer.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO, Deque, Dict, List, Optional, Pattern, Sequence, Tuple

from envdoctor.explain.reader import ReadStats, read_lines
from envdoctor.matrix.model import KnownError

MAX_ERROR_LINES = 20
MAX_TEXT = 400
CONTEXT_LINES = 8
_FRAME = re.compile(r'^\s*File "[^"]+", line \d+')
_ERRORISH = re.compile(
    r"(?i)(\b(error|exception|fatal|traceback|failed|failure|abort(ed)?|segmentation fault|core dumped)\b"
    r"|\b\w+(Error|Exception):|错误|失败|异常|报错)"
)


@dataclass
class Match:
    error: KnownError
    line_no: int
    line: str
    context: Tuple[str, ...]  # traceback frames (and their code lines) shortly before the match
    count: int = 1


@dataclass
class Explanation:
    stats: ReadStats
    matches: List[Match] = field(default_factory=list)  # in order of first appearance
    error_lines: List[Tuple[int, str]] = field(default_factory=list)
    more_error_lines: int = 0


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _compile(known: Sequence[KnownError]) -> Tuple[List[Tuple[KnownError, Pattern[str]]], Optional[Pattern[str]]]:
    compiled = []
    for error in known:
        try:
            compiled.append((error, re.compile(error.pattern, re.IGNORECASE)))
        except re.error:
            continue  # the schema check should have caught it; one bad pattern must not stop the rest
    combined: Optional[Pattern[str]] = None
    if compiled:
        try:
            # One pass over each line to find out whether any pattern can match: most lines match none.
            combined = re.compile("|".join(f"(?:{p.pattern})" for _, p in compiled), re.IGNORECASE)
        except re.error:
            combined = None
    return compiled, combined


def _context(recent: Deque[str]) -> Tuple[str, ...]:
    lines = list(recent)
    keep: List[str] = []
    for index, line in enumerate(lines):
        if _FRAME.match(line):
            keep.append(_cut(line))
            if index + 1 < len(lines) and not _FRAME.match(lines[index + 1]):
                keep.append(_cut(lines[index + 1]))
    return tuple(keep[-4:])


def explain_stream(stream: BinaryIO, known: Sequence[KnownError]) -> Explanation:
    stats = ReadStats()
    result = Explanation(stats)
    compiled, combined = _compile(known)
    found: Dict[str, Match] = {}
    recent: Deque[str] = deque(maxlen=CONTEXT_LINES)
    seen_error_lines = set()
    for number, line in read_lines(stream, stats):
        # tqdm progress bars and some consoles separate updates with bare CRs: each is its own line.
        segments = line.split("\r") if "\r" in line else [line]
        for text in segments:
            if combined is None or combined.search(text):
                for error, pattern in compiled:
                    if pattern.search(text):
                        match = found.get(error.code)
                        if match is None:
                            found[error.code] = Match(error, number, _cut(text), _context(recent))
                            result.matches.append(found[error.code])
                        else:
                            match.count += 1
            if _ERRORISH.search(text):
                key = _cut(text)
                if key not in seen_error_lines:
                    if len(result.error_lines) < MAX_ERROR_LINES:
                        seen_error_lines.add(key)
                        result.error_lines.append((number, key))
                    else:
                        result.more_error_lines += 1
            recent.append(text[:MAX_TEXT])
    return result
