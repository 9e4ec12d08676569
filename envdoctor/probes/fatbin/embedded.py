"""Embedded containers: a bounded search of a library's data sections for the containers it
loads itself (cuFFT keeps ~24,000 of them in .ldata/.data)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from envdoctor.probes.fatbin.containers import _ENTRY_HEADER, _Raw
from envdoctor.probes.fatbin.format import (
    _MAGIC_BYTES,
    _MAX_EMBEDDED_ENTRY_HEADER,
    _MAX_EMBEDDED_HEADER,
    _MAX_ENTRIES,
    _MAX_REJECTED,
    _SEARCH_WINDOW,
    CONTAINER_HEADER,
    MIN_ENTRY_HEADER,
)
from envdoctor.probes.fatbin.reader import _Reader, _ScanError, _Section


class _Window:
    """A 1 MiB view of [start, end) that slides forward: the search never holds more than that."""

    def __init__(self, reader: _Reader, start: int, end: int) -> None:
        self.reader = reader
        self.end = end
        self.at = start
        self.data = b""

    def _load(self, offset: int) -> None:
        self.at = offset
        self.data = self.reader.read(offset, min(_SEARCH_WINDOW, self.end - offset), "data section")

    def find(self, pos: int) -> int:
        """Offset of the next container magic at or after pos, or -1."""
        while self.end - pos >= CONTAINER_HEADER:
            if not (self.at <= pos and pos + len(_MAGIC_BYTES) <= self.at + len(self.data)):
                self._load(pos)
            hit = self.data.find(_MAGIC_BYTES, pos - self.at)
            if hit >= 0:
                return self.at + hit
            loaded_end = self.at + len(self.data)
            if loaded_end >= self.end:
                return -1
            pos = loaded_end - len(_MAGIC_BYTES) + 1  # a magic cut by the window edge is found next time
            self._load(pos)
        return -1

    def bytes(self, offset: int, length: int) -> bytes:
        relative = offset - self.at
        if relative >= 0 and relative + length <= len(self.data):
            return self.data[relative : relative + length]
        return self.reader.read(offset, length, "embedded fat binary")


_CONTAINER_HEADER = struct.Struct("<IHHQ")


def _embedded_container(window: _Window, at: int, end: int, out: List[_Raw], total: int) -> Optional[int]:
    """Entries of a plausible container at `at` appended to out, and where it ends; None (and out
    unchanged) when anything about it is not what a real container looks like."""
    if end - at < CONTAINER_HEADER + MIN_ENTRY_HEADER:
        return None  # a magic too near the end of its section to start a container with an entry
    # Parsed straight from the window where the headers lie inside it (nearly always), else read.
    data, base = window.data, window.at
    if at + _MAX_EMBEDDED_HEADER > base + len(data):
        data, base = window.bytes(at, min(end - at, 1 << 16)), at
    _magic, version, header_size, body_size = _CONTAINER_HEADER.unpack_from(data, at - base)
    if not (1 <= version < 0x100 and CONTAINER_HEADER <= header_size <= _MAX_EMBEDDED_HEADER):
        return None
    cursor = at + header_size
    stop = cursor + body_size
    if body_size < MIN_ENTRY_HEADER or stop > end:
        return None
    found: List[_Raw] = []
    unpack = _ENTRY_HEADER.unpack_from
    limit = base + len(data) - MIN_ENTRY_HEADER
    while cursor < stop:
        if stop - cursor < MIN_ENTRY_HEADER or total + len(found) >= _MAX_ENTRIES:
            return None
        if cursor > limit or cursor < base:
            data, base = window.bytes(cursor, MIN_ENTRY_HEADER), cursor
            limit = cursor
        kind, entry_header_size, payload_size, arch, flags = unpack(data, cursor - base)
        if (
            kind == 0
            or kind & (kind - 1)  # kinds are single bits: 1 PTX, 2 SASS, 8 LTO-IR
            or kind > 0x80
            or not MIN_ENTRY_HEADER <= entry_header_size <= _MAX_EMBEDDED_ENTRY_HEADER
            or not 10 <= arch < 10000
        ):
            return None
        following = cursor + entry_header_size + payload_size
        if following > stop:
            return None
        found.append((kind, arch, flags, cursor))
        cursor = following
    out.extend(found)
    return stop


def _search_regions(reader: _Reader, regions: List[Tuple[int, int]], done: List[Tuple[int, int]],
                    out: List[_Raw]) -> int:
    """Search the regions for embedded containers (skipping bytes already read as registered
    ones); append their entries to out and return how many containers were found."""
    containers = 0
    rejected = 0
    for start, end in _merge(regions):
        skips = sorted((low, high) for low, high in done if low < end and start < high)
        window = _Window(reader, start, end)
        pos = start
        while True:
            hit = window.find(pos)
            if hit < 0:
                break
            if skips:
                inside = next((high for low, high in skips if low <= hit < high), None)
                if inside is not None:
                    pos = inside
                    continue
            stop = _embedded_container(window, hit, end, out, len(out))
            if stop is None:
                rejected += 1
                if rejected > _MAX_REJECTED:
                    raise _ScanError(
                        "search-limit", f"{rejected} false fat-binary candidates; search stopped at {hit:#x}"
                    )
                pos = hit + 1
            else:
                containers += 1
                pos = stop
    return containers


def _merge(regions: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    merged: List[Tuple[int, int]] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class _Plan:
    """What the format-specific readers leave for the embedded search."""

    regions: List[Tuple[int, int]] = field(default_factory=list)  # data sections to search
    done: List[Tuple[int, int]] = field(default_factory=list)  # bytes read as registered containers
    format: str = "unknown"  # "elf" | "pe" | "fatbin" once the header says so


def _plan_search(reader: _Reader, sections: List[_Section], registered: Tuple[str, ...], plan: _Plan) -> None:
    for section in sections:
        if not section.data or section.name in registered or section.size == 0:
            continue
        end = min(section.offset + section.size, reader.size)
        if end - section.offset >= CONTAINER_HEADER:
            plan.regions.append((section.offset, end))
