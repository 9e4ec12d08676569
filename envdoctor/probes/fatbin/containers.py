"""Walking fat-binary containers and their entries (registered ones and wrappers)."""

from __future__ import annotations

import struct
from typing import List, Tuple

from envdoctor.probes.fatbin.format import (
    _MAX_ENTRIES,
    _MAX_PADDING,
    _MAX_WRAPPERS,
    CONTAINER_HEADER,
    FATBIN_MAGIC,
    FLAG_ARCH_SPECIFIC,
    FLAG_FAMILY,
    FLAG_LZ4,
    FLAG_ZSTD,
    KIND_LTO,
    KIND_PTX,
    KIND_SASS,
    MIN_ENTRY_HEADER,
    WRAPPER_MAGIC,
    WRAPPER_SIZE,
)
from envdoctor.probes.fatbin.reader import _Reader, _ScanError, _Section
from envdoctor.probes.fatbin.results import FatbinEntry


def _arch_name(arch: int, flags: int) -> str:
    if flags & FLAG_ARCH_SPECIFIC:
        suffix = "a"
    elif flags & FLAG_FAMILY:
        suffix = "f"
    else:
        suffix = ""
    return f"sm_{arch}{suffix}"


def _compression(flags: int) -> str:
    lz4 = bool(flags & FLAG_LZ4)
    zstd = bool(flags & FLAG_ZSTD)
    if lz4 and zstd:
        return "unknown"
    if lz4:
        return "lz4"
    if zstd:
        return "zstd"
    return "none"


# Entries are gathered as (kind, arch, flags, offset) tuples: cheap for the ~3000 of a big library;
# FatbinEntry objects are made only when asked for (scan_entries).
_Raw = Tuple[int, int, int, int]


def _describe(kind: int, arch: int, flags: int) -> Tuple[str, str]:
    """(kind name, arch name) of an entry."""
    name = _arch_name(arch, flags)
    if kind == KIND_SASS:
        # Family-specific SASS keeps its "f" (sm_103f), as `cuobjdump -elf` prints it ("arch = sm_103f");
        # `--list-elf` drops it from the file names it lists (sm_103).  For SASS the two run on the
        # same GPUs (its major, minor >= its own), but the name should say what nvcc was asked for.
        return "sass", name
    if kind == KIND_PTX:
        return "ptx", name
    if kind == KIND_LTO:
        return "lto", "lto_" + name[3:]
    return "unknown", f"kind{kind}_{name}"


def _entry(raw: _Raw, embedded: bool = False) -> FatbinEntry:
    kind, arch, flags, offset = raw
    kind_name, arch_name = _describe(kind, arch, flags)
    return FatbinEntry(kind_name, arch_name, _compression(flags), offset, flags, embedded)


def _skip_padding(reader: _Reader, pos: int, end: int) -> int:
    """Offset of the first non-zero byte at or after pos (end when only zeros are left)."""
    limit = min(end, pos + _MAX_PADDING)
    while pos < limit:
        chunk = reader.read(pos, min(256, limit - pos), "padding")
        stripped = chunk.lstrip(b"\0")
        if stripped:
            return pos + len(chunk) - len(stripped)
        pos += len(chunk)
    return end


def _walk_container(reader: _Reader, pos: int, header: bytes, end: int, out: List[_Raw]) -> int:
    """Read the entries of the container at pos (header: its 16 bytes); return where it ends."""
    _magic, _version, header_size, body_size = struct.unpack_from("<IHHQ", header)
    if header_size < CONTAINER_HEADER:
        raise _ScanError("bad-fatbin-header", f"container at {pos:#x} declares header size {header_size}")
    body = pos + header_size
    stop = body + body_size
    if stop > end:
        raise _ScanError(
            "truncated", f"container at {pos:#x} declares {body_size:#x} bytes, region ends at {end:#x}"
        )
    read = reader.read
    unpack = _ENTRY_HEADER.unpack_from
    cursor = body
    while cursor < stop:
        if len(out) >= _MAX_ENTRIES:
            raise _ScanError("bad-fatbin-header", f"more than {_MAX_ENTRIES} entries")
        if stop - cursor < MIN_ENTRY_HEADER:
            raise _ScanError("truncated", f"entry header at {cursor:#x} cut by container end {stop:#x}")
        kind, entry_header_size, payload_size, arch, flags = unpack(
            read(cursor, MIN_ENTRY_HEADER, "entry header")
        )
        if entry_header_size < MIN_ENTRY_HEADER:
            raise _ScanError(
                "bad-fatbin-header", f"entry at {cursor:#x} declares header size {entry_header_size}"
            )
        following = cursor + entry_header_size + payload_size
        if following <= cursor:  # cannot happen with the checks above; guards the loop anyway
            raise _ScanError("header-loop", f"entry at {cursor:#x} does not advance")
        if following > stop:
            raise _ScanError(
                "truncated", f"entry at {cursor:#x} runs to {following:#x}, past its container ({stop:#x})"
            )
        out.append((kind, arch, flags, cursor))
        cursor = following
    return stop


# kind u16, version u16 (skipped), header size u32, payload size u64, 12 bytes skipped, arch u32 at
# 0x1C, 8 bytes skipped, flags u64 at 0x28.
_ENTRY_HEADER = struct.Struct("<H2xIQ12xI8xQ")
assert _ENTRY_HEADER.size == MIN_ENTRY_HEADER


def _walk_region(reader: _Reader, start: int, end: int, out: List[_Raw], single: bool = False) -> None:
    """Read the containers in [start, end): back to back, zero padding allowed between them."""
    pos = start
    while pos < end:
        if end - pos < CONTAINER_HEADER:
            if _skip_padding(reader, pos, end) >= end:
                return
            raise _ScanError("truncated", f"{end - pos} stray bytes at {pos:#x}")
        header = reader.read(pos, CONTAINER_HEADER, "fat binary header")
        (magic,) = struct.unpack_from("<I", header)
        if magic != FATBIN_MAGIC:
            if header[0] == 0:
                pos = _skip_padding(reader, pos, end)
                continue
            raise _ScanError("bad-fatbin-header", f"no fat binary magic at {pos:#x} (found {magic:#010x})")
        following = _walk_container(reader, pos, header, end, out)
        if following <= pos:
            raise _ScanError("header-loop", f"container at {pos:#x} does not advance")
        if single:
            return
        pos = following


def _overlaps(start: int, end: int, done: List[Tuple[int, int]]) -> bool:
    return any(start < high and low < end for low, high in done)


def _follow_wrappers(
    reader: _Reader,
    segment: _Section,
    sections: List[_Section],
    done: List[Tuple[int, int]],
    out: List[_Raw],
) -> None:
    """Read containers that registration wrappers point at, unless their bytes were read already."""
    count = min(segment.size // WRAPPER_SIZE, _MAX_WRAPPERS)
    if count == 0:
        return
    data = reader.read(segment.offset, count * WRAPPER_SIZE, "fat binary wrappers")
    loaded = [section for section in sections if section.kind != 8 and section.address]  # not NOBITS
    for index in range(count):
        magic, _version, address, _more = struct.unpack_from("<IIQQ", data, index * WRAPPER_SIZE)
        if magic != WRAPPER_MAGIC or address == 0:
            continue
        for section in loaded:
            if section.address <= address < section.address + section.size:
                offset = section.offset + (address - section.address)
                end = min(section.offset + section.size, reader.size)
                break
        else:
            continue
        if end - offset < CONTAINER_HEADER or _overlaps(offset, offset + 1, done):
            continue  # usually: a wrapper of a container in .nv_fatbin, read already
        magic, _version, header_size, body_size = struct.unpack(
            "<IHHQ", reader.read(offset, CONTAINER_HEADER, "wrapped fat binary")
        )
        if magic != FATBIN_MAGIC:
            continue  # a wrapper into data we do not understand proves nothing
        stop = min(offset + header_size + body_size, end)
        if _overlaps(offset, stop, done):
            continue
        _walk_region(reader, offset, end, out, single=True)
        done.append((offset, stop))
