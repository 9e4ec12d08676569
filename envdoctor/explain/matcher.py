"""Match a log against the matrix's known errors; keep the evidence, never the whole log.

Per known error: the first line that shows it (with the traceback frames just before it, e.g.
`File ".../kaldi.py", line 621, in fbank`), and on how many lines it appears. Lines that merely look
like errors are kept too (at most MAX_ERROR_LINES, each at most MAX_TEXT characters), so an unknown
error still gets a useful answer. Each pattern is reduced to literals that any match must contain
(envdoctor.explain.literals); `bytes.find` on a lowercased block finds the few lines that hold one,
and only those lines meet the full regular expressions.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Dict, FrozenSet, List, Optional, Pattern, Sequence, Set, Tuple

from envdoctor.explain.budget import BLOCK_BUDGET_S, LINE_BUDGET_S, Budget, RegexTimeout
from envdoctor.explain.literals import required_literals
from envdoctor.explain.reader import ReadStats, read_blocks
from envdoctor.matrix.views import KnownError

MAX_ERROR_LINES = 20
MAX_TEXT = 400
CONTEXT_LINES = 8
_FRAME = re.compile(r'^\s*File "[^"]+", line \d+')
_ERRORISH = re.compile(
    r"(?i)(\b(error|exception|fatal|traceback|failed|failure|abort(ed)?|segmentation fault|core dumped)\b"
    r"|\w(Error|Exception):|错误|失败|异常|报错)"
)


@dataclass
class Match:
    error: KnownError
    line_no: int
    line: str
    context: Tuple[str, ...]  # traceback frames (and their code lines) shortly before the match
    count: int = 1  # lines that show it


@dataclass
class Explanation:
    stats: ReadStats
    matches: List[Match] = field(default_factory=list)  # in order of first appearance
    error_lines: List[Tuple[int, str]] = field(default_factory=list)
    more_error_lines: int = 0
    slow_patterns: List[str] = field(default_factory=list)  # known-error codes dropped for overrunning the budget


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _compile(known: Sequence[KnownError]) -> List[Tuple[KnownError, Pattern[str]]]:
    compiled = []
    for error in known:
        try:
            compiled.append((error, re.compile(error.pattern, re.IGNORECASE)))
        except re.error:
            continue  # the schema check should have caught it; one bad pattern must not stop the rest
    return compiled


def _segment(line: str, offset: int) -> str:
    """A line holding bare CRs (progress bars) is several screen lines: the one at offset."""
    if "\r" not in line:
        return line
    start = line.rfind("\r", 0, offset) + 1
    end = line.find("\r", offset)
    return line[start: len(line) if end < 0 else end]


@dataclass
class _Prepared:
    compiled: List[Tuple[KnownError, Pattern[str]]]
    literals: FrozenSet[bytes]  # union of every prefiltered pattern's literals, and the error words
    unfiltered: List[Pattern[str]]  # patterns without literals: searched over each whole block


def _prepare(known: Sequence[KnownError]) -> _Prepared:
    compiled = _compile(known)
    literals: Set[bytes] = set(required_literals(_ERRORISH.pattern) or ())
    unfiltered: List[Pattern[str]] = []
    for _error, pattern in compiled:
        needed = required_literals(pattern.pattern)
        if needed is None:
            unfiltered.append(pattern)
        else:
            literals |= needed
    return _Prepared(compiled, frozenset(literals), unfiltered)


def _candidate_lines(low: bytes, literals: FrozenSet[bytes]) -> Dict[int, int]:
    """{line start: line end} of the lines holding any literal (offsets in the block's bytes)."""
    lines: Dict[int, int] = {}
    for literal in literals:
        pos = low.find(literal)
        while pos >= 0:
            start = low.rfind(b"\n", 0, pos) + 1
            end = low.find(b"\n", pos)
            end = len(low) if end < 0 else end
            lines[start] = end
            pos = low.find(literal, end)
    return lines


def _context(data: bytes, start: int, previous_tail: List[str]) -> Tuple[str, ...]:
    lines: List[str] = []
    pos = start
    while len(lines) < CONTEXT_LINES and pos > 0:
        begin = data.rfind(b"\n", 0, pos - 1) + 1
        lines.insert(0, data[begin: pos - 1][: MAX_TEXT * 4].decode("utf-8", "replace"))
        pos = begin
    if len(lines) < CONTEXT_LINES and pos == 0:
        lines = previous_tail[-(CONTEXT_LINES - len(lines)):] + lines
    keep: List[str] = []
    for index, line in enumerate(lines):
        if _FRAME.match(line):
            keep.append(_cut(line))
            if index + 1 < len(lines) and not _FRAME.match(lines[index + 1]):
                keep.append(_cut(lines[index + 1]))
    return tuple(keep[-4:])


def _tail(data: bytes) -> List[str]:
    return [line[: MAX_TEXT * 4].decode("utf-8", "replace") for line in data.rsplit(b"\n", CONTEXT_LINES)]


def _unfiltered_lines(text: str, data: bytes, patterns: List[Pattern[str]], budget: Budget,
                     on_slow: Any) -> Dict[int, int]:
    """Lines hit by patterns that have no literal prefilter (byte offsets, like _candidate_lines)."""
    lines: Dict[int, int] = {}
    for pattern in list(patterns):
        try:
            budget.arm(BLOCK_BUDGET_S)
            hits = [hit.start() for hit in pattern.finditer(text)]
            budget.disarm()
        except RegexTimeout:
            on_slow(pattern)
            continue
        for position in hits:
            start_char = text.rfind("\n", 0, position) + 1
            start = len(text[:start_char].encode("utf-8"))
            end = data.find(b"\n", start)
            lines[start] = len(data) if end < 0 else end
    return lines


class _Scan:
    def __init__(self, known: Sequence[KnownError], budget: Optional[Budget] = None) -> None:
        self.prepared = _prepare(known)
        self.found: Dict[str, Match] = {}
        self.seen_error_lines: Set[str] = set()
        self.previous_tail: List[str] = []
        self.budget = budget or Budget()
        self.result: Optional[Explanation] = None

    def _drop(self, pattern: Pattern[str]) -> None:
        """A pattern overran its time budget: it is not used again for this log, and the user is told."""
        for error, compiled in self.prepared.compiled:
            if compiled is pattern:
                self._drop_known(error, pattern)

    def block(self, first_line: int, text: str, result: Explanation) -> None:
        self.result = result
        data = text.encode("utf-8")
        lines = _candidate_lines(data.lower(), self.prepared.literals)
        if self.prepared.unfiltered:
            lines.update(_unfiltered_lines(text, data, self.prepared.unfiltered, self.budget, self._drop))
        number, counted = first_line, 0
        for start in sorted(lines):
            number += data.count(b"\n", counted, start)
            counted = start
            line = data[start: lines[start]].decode("utf-8", "replace")
            self._known(number, line, data, start, result)
            self._errorish(number, line, result)
        self.previous_tail = _tail(data)

    def _known(self, number: int, line: str, data: bytes, start: int, result: Explanation) -> None:
        # One timer for all patterns on this line (two system calls per line, not per pattern); the
        # pattern running when it fires is the one that overran.
        self.result = result
        self.budget.arm(LINE_BUDGET_S)
        for error, pattern in list(self.prepared.compiled):
            try:
                hit = pattern.search(line)
            except RegexTimeout:
                self._drop_known(error, pattern)
                self.budget.arm(LINE_BUDGET_S)
                continue
            if hit is None:
                continue
            match = self.found.get(error.code)
            if match is None:
                match = Match(error, number, _cut(_segment(line, hit.start())),
                              _context(data, start, self.previous_tail))
                self.found[error.code] = match
                result.matches.append(match)
            else:
                match.count += 1
        self.budget.disarm()

    def _drop_known(self, error: KnownError, pattern: Pattern[str]) -> None:
        self.budget.disarm()
        self.prepared.compiled = [(e, p) for e, p in self.prepared.compiled if p is not pattern]
        self.prepared.unfiltered = [p for p in self.prepared.unfiltered if p is not pattern]
        if self.result is not None and error.code not in self.result.slow_patterns:
            self.result.slow_patterns.append(error.code)

    def _errorish(self, number: int, line: str, result: Explanation) -> None:
        hit = _ERRORISH.search(line)
        if hit is None:
            return
        key = _cut(_segment(line, hit.start()))
        if key in self.seen_error_lines:
            return
        if len(result.error_lines) < MAX_ERROR_LINES:
            self.seen_error_lines.add(key)
            result.error_lines.append((number, key))
        else:
            result.more_error_lines += 1


def explain_stream(stream: BinaryIO, known: Sequence[KnownError]) -> Explanation:
    stats = ReadStats()
    result = Explanation(stats)
    with Budget() as budget:
        scan = _Scan(known, budget)
        for block in read_blocks(stream, stats):
            scan.block(block.first_line, block.text, result)
    return result


def explain_text(text: str, known: Sequence[KnownError]) -> Explanation:
    """explain_stream over a text already in memory (a smoke test's error, a log's last error)."""
    return explain_stream(io.BytesIO(text.encode("utf-8")), known)


def first_known_error(text: Optional[str], known: Sequence[KnownError]) -> Optional[KnownError]:
    """The known error that appears first in TEXT (None for none or no text): the one matcher that
    explain, doctor's smoke results and the report use."""
    if not text:
        return None
    matches = explain_text(text, known).matches
    return matches[0].error if matches else None
