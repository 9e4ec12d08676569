"""Static CUDA coverage: list the device code (SASS and PTX) embedded in shared libraries.

Reads only headers: the ELF section header table or the PE section table, then the headers of the
fat-binary containers and of their entries.  Payloads are never read or decompressed, so the cost
grows with the number of entries, not with the size of the file (a 500 MB ``libtorch_cuda.so``
with ~3000 entries takes milliseconds).

Layout of a fat binary (little-endian), as found in ``.nv_fatbin`` (ELF), ``__nv_relfatbin``
(ELF relocatable objects) and ``.nv_fatb`` (PE images, section names cut to 8 characters):

* container header, 16 bytes: u32 magic 0xBA55ED50, u16 version, u16 header size,
  u64 size of the entries that follow.  Containers follow each other, maybe with zero padding.
* entry header (``header size`` bytes, 64 to 120 seen): u16 kind (1 PTX, 2 SASS/ELF, 8 LTO-IR),
  u16 version, u32 header size, u64 payload size, ..., u32 arch at +0x1C (75, 90, 120...),
  u64 flags at +0x28.  The next entry starts at entry + header size + payload size.

Entry flags, checked against ``cuobjdump`` 13.5 on nvcc 13.0 output (see tests/fixtures/fatbin):

* 0x1 64-bit device code, 0x10 Linux host (0x40 Windows host per other parsers; not checked here:
  the PE fixtures carry a fat binary built on Linux);
* 0x2000 payload compressed with LZ4 (``-compress-mode=speed``),
  0x8000 payload compressed with zstd (the default mode of CUDA 13);
* 0x10000 on LTO-IR entries;
* 0x100000 arch-specific target (``sm_90a``, ``sm_100a``: runs on exactly that arch);
* 0x200000 family-specific target (``sm_100f``, ``sm_103f``, ``sm_120f``).  ``cuobjdump
  --list-elf`` prints such SASS without the ``f`` (``sm_103``); ``-elf`` and ``--list-ptx`` keep
  it.  This scanner keeps the suffix for both, so the name says what nvcc was asked for;
* 0x1000000 on every SASS entry for sm_100 and newer (their 96/112-byte headers carry extra
  target data); no bearing on the arch name.

The ``.nvFatBinSegment`` section (``.nvFatBi`` in PE) holds 24-byte wrappers (u32 magic
0x466243B1, u32 version, u64 address of a container, u64 more) that the CUDA runtime registers.
When a wrapper points at a container outside the fat-binary sections already read (for example
a section renamed by a post-link tool), that container is read too, like the runtime would.

Registered and embedded containers.  The containers above are the *registered* ones: the CUDA
runtime loads them when the library is loaded, and they are all ``cuobjdump`` lists.  Some
libraries keep most of their device code elsewhere and load it themselves through the driver API:
NVIDIA's cuFFT registers a one-entry stub and keeps ~24,000 further containers in ``.ldata``
(ELF) / ``.data`` (PE).  Unless asked for the registered ones only, the scanner also searches the
file's initialised, non-executable data sections for the container magic and keeps each hit whose
header and whole entry chain are sane (version, header sizes, entry kinds, archs, a chain that ends
exactly where the container says).  These *embedded* entries are reported apart from the
registered ones.  The search reads the sections in 1 MiB windows (never the whole file), jumps
over every container it accepts (its payloads are never searched), and stops after
``_MAX_REJECTED`` candidates that fail the checks, so its cost is bounded by the size of the data
sections, not by what a hostile file puts in them.
"""

from __future__ import annotations

import os
import stat
import struct
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Tuple

from envdoctor.model import arch_order

__all__ = [
    "FatbinEntry",
    "BinaryScan",
    "ScanCache",
    "scan_file",
    "scan_entries",
    "scan_paths",
    "is_shared_library_name",
    "MIN_ENTRY_HEADER",
    "SCANNER_VERSION",
    "ERROR_CODES",
]

# 2: embedded containers are searched for; family-specific SASS keeps its "f" (sm_103f).
SCANNER_VERSION = 2

# Every value BinaryScan.error can take besides None.
ERROR_CODES = frozenset(
    {
        "unreadable",  # the file could not be opened or read (missing, permission denied, I/O error)
        "not-a-file",  # a directory, device, FIFO or socket
        "empty",  # zero-length file
        "not-elf-or-pe",  # neither ELF, PE nor a bare fat binary
        "unsupported-elf",  # ELF32 or big-endian
        "bad-elf-header",  # ELF header fields that cannot be right
        "no-section-headers",  # ELF without a section header table: nothing can be said
        "truncated",  # a header or a declared size runs past the end of the file or its container
        "bad-fatbin-header",  # a fat-binary section or container that does not parse
        "header-loop",  # a header chain that does not advance
        "search-limit",  # the search for embedded containers met too many false candidates and stopped
    }
)

FATBIN_MAGIC = 0xBA55ED50
WRAPPER_MAGIC = 0x466243B1
CONTAINER_HEADER = 16
# An entry header must at least reach the flags word (0x28..0x30); real ones are 64..120 bytes.
MIN_ENTRY_HEADER = 0x30
WRAPPER_SIZE = 24

KIND_PTX = 1
KIND_SASS = 2
KIND_LTO = 8

FLAG_LZ4 = 0x2000
FLAG_ZSTD = 0x8000
FLAG_ARCH_SPECIFIC = 0x100000
FLAG_FAMILY = 0x200000

# Names of sections that hold fat binaries.
_ELF_FATBIN = ".nv_fatbin"
_ELF_RELFATBIN = "__nv_relfatbin"
_ELF_SEGMENT = ".nvFatBinSegment"
_PE_FATBIN = (".nv_fatb", ".nv_fatbin")
_PE_SEGMENT = (".nvFatBi", ".nvFatBinSegment")

_MAX_PADDING = 4096  # zero bytes skipped between containers before giving up on a region
_MAX_ENTRIES = 1_000_000  # far above anything real (libtorch_cuda.so has ~3000)
_MAX_WRAPPERS = 65536
_MAX_SECTIONS = 1 << 20

# The search for embedded containers.
_SEARCH_WINDOW = 1 << 20  # bytes read at a time
_MAX_REJECTED = 100_000  # magic hits that fail the sanity checks before the search gives up
_MAX_EMBEDDED_HEADER = 256  # container header sizes accepted while searching (16 in every file seen)
_MAX_EMBEDDED_ENTRY_HEADER = 0x400  # entry header sizes accepted while searching (64..128 seen)
_MAGIC_BYTES = struct.pack("<I", FATBIN_MAGIC)


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class FatbinEntry:
    kind: str  # "sass" | "ptx" | "lto" | "unknown"
    arch: str  # "sm_75", "sm_90a", "sm_100f"...; PTX uses the same names ("sm_120f")
    compression: str  # "none" | "lz4" | "zstd" | "unknown"
    offset: int  # file offset of the entry header
    flags: int = 0  # raw flag word, for diagnostics
    embedded: bool = False  # True: found by the search of the data sections, not registered


@dataclass(frozen=True)
class BinaryScan:
    path: str
    format: str  # "elf" | "pe" | "fatbin" (a bare .fatbin/.cubin container file) | "unknown"
    size: int
    mtime_ns: int
    sass: Dict[str, int] = field(default_factory=dict)
    ptx: Dict[str, int] = field(default_factory=dict)
    entries: int = 0  # every entry read, including LTO-IR and unknown kinds
    error: Optional[str] = None  # stable code; None when the whole file was read cleanly
    error_detail: Optional[str] = None
    other: Dict[str, int] = field(default_factory=dict)  # LTO-IR ("lto_90") and unknown kinds
    # Containers found in the data sections, outside the registered fat binary (see module doc).
    embedded_sass: Dict[str, int] = field(default_factory=dict)
    embedded_ptx: Dict[str, int] = field(default_factory=dict)
    embedded_other: Dict[str, int] = field(default_factory=dict)
    embedded_entries: int = 0
    embedded_containers: int = 0
    searched: bool = False  # whether the data sections were searched (False: registered only)

    @property
    def has_cuda(self) -> bool:
        return self.entries > 0 or self.embedded_entries > 0

    @property
    def all_sass(self) -> Dict[str, int]:
        """Registered and embedded SASS together: what the library can run."""
        return _merged(self.sass, self.embedded_sass)

    @property
    def all_ptx(self) -> Dict[str, int]:
        return _merged(self.ptx, self.embedded_ptx)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sass": dict(self.sass),
            "ptx": dict(self.ptx),
            "other": dict(self.other),
            "entries": self.entries,
            "embedded_sass": dict(self.embedded_sass),
            "embedded_ptx": dict(self.embedded_ptx),
            "embedded_other": dict(self.embedded_other),
            "embedded_entries": self.embedded_entries,
            "embedded_containers": self.embedded_containers,
            "searched": self.searched,
            "error": self.error,
            "error_detail": self.error_detail,
        }

    @classmethod
    def from_dict(cls, data: Any) -> BinaryScan:
        """Inverse of to_dict; raises ValueError on anything malformed."""
        if not isinstance(data, dict):
            raise ValueError("scan record is not an object")

        def text(key: str, optional: bool = False) -> Optional[str]:
            value = data.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise ValueError(f"{key} is not a string")
            return value

        def integer(key: str, default: Optional[int] = None) -> int:
            value = data.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} is not a non-negative integer")
            return value

        def counts(key: str) -> Dict[str, int]:
            value = data.get(key, {})
            if not isinstance(value, dict):
                raise ValueError(f"{key} is not an object")
            out: Dict[str, int] = {}
            for name, count in value.items():
                if not isinstance(name, str) or not isinstance(count, int) or isinstance(count, bool):
                    raise ValueError(f"bad {key} entry")
                out[name] = count
            return out

        return cls(
            path=text("path") or "",
            format=text("format") or "unknown",
            size=integer("size"),
            mtime_ns=integer("mtime_ns"),
            sass=counts("sass"),
            ptx=counts("ptx"),
            entries=integer("entries"),
            error=text("error", optional=True),
            error_detail=text("error_detail", optional=True),
            other=counts("other"),
            embedded_sass=counts("embedded_sass"),
            embedded_ptx=counts("embedded_ptx"),
            embedded_other=counts("embedded_other"),
            embedded_entries=integer("embedded_entries", 0),
            embedded_containers=integer("embedded_containers", 0),
            searched=data.get("searched") is True,
        )


def _merged(first: Dict[str, int], second: Dict[str, int]) -> Dict[str, int]:
    out = dict(first)
    for name, count in second.items():
        out[name] = out.get(name, 0) + count
    return _sorted(out)


# --------------------------------------------------------------------------------------------
# Bounded reading


class _NotAFile(OSError):
    pass


class _ScanError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class _Reader:
    """Positioned reads that never go past the size the file had when it was opened."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self.handle = handle
        self.size = size
        self.reads = 0
        # One pread per header where the OS has it (POSIX); seek + read elsewhere (Windows).
        self._pread = getattr(os, "pread", None)
        self._fd = handle.fileno()

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise _ScanError(
                "truncated", f"{what}: {length} bytes at {offset:#x} run past the end ({self.size:#x})"
            )
        if self._pread is not None:
            data = self._pread(self._fd, length, offset)
        else:
            self.handle.seek(offset)
            data = self.handle.read(length)
        self.reads += 1
        if len(data) != length:
            raise _ScanError("truncated", f"{what}: file shrank while being read at {offset:#x}")
        return data


@dataclass(frozen=True)
class _Section:
    name: str
    kind: int  # ELF sh_type; 1 (PROGBITS) for PE sections holding raw data
    address: int  # virtual address (ELF sh_addr, PE image base + RVA)
    offset: int  # file offset
    size: int  # bytes present in the file
    data: bool = False  # initialised, loaded, not executable: searched for embedded containers


# --------------------------------------------------------------------------------------------
# Fat-binary walking


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


# --------------------------------------------------------------------------------------------
# Embedded containers: a bounded search of the data sections


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


# --------------------------------------------------------------------------------------------
# ELF


def _elf_sections(reader: _Reader, ident: bytes) -> Tuple[int, List[_Section]]:
    if ident[4] != 2 or ident[5] != 1:
        raise _ScanError("unsupported-elf", f"ELF class {ident[4]} data {ident[5]}: only ELF64 little-endian")
    header = reader.read(0, 64, "ELF header")
    e_type = struct.unpack_from("<H", header, 16)[0]
    (e_shoff,) = struct.unpack_from("<Q", header, 40)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", header, 58)
    if e_shoff == 0:
        raise _ScanError("no-section-headers", "the section header table was stripped")
    if e_shentsize < 64:
        raise _ScanError("bad-elf-header", f"section header size {e_shentsize}")
    if e_shnum == 0 or e_shstrndx == 0xFFFF:  # extended numbering: real values live in section 0
        first = reader.read(e_shoff, 64, "section header 0")
        if e_shnum == 0:
            (e_shnum,) = struct.unpack_from("<Q", first, 32)
        if e_shstrndx == 0xFFFF:
            (e_shstrndx,) = struct.unpack_from("<I", first, 40)
    if e_shnum > _MAX_SECTIONS or e_shnum * e_shentsize > reader.size:
        raise _ScanError("truncated", f"{e_shnum} section headers do not fit in the file")
    table = reader.read(e_shoff, e_shnum * e_shentsize, "section headers")
    raw = []
    for index in range(e_shnum):
        raw.append(struct.unpack_from("<IIQQQQ", table, index * e_shentsize))
    if e_shstrndx >= e_shnum:
        raise _ScanError("bad-elf-header", f"section name table index {e_shstrndx} out of range")
    _n, _t, _f, _a, str_offset, str_size = raw[e_shstrndx]
    if str_offset + str_size > reader.size:
        raise _ScanError("truncated", "section name table runs past the end")
    names = _NameTable(reader, str_offset, str_size)
    sections = []
    for name_offset, sh_type, sh_flags, address, offset, size in raw:
        if sh_type == 0:
            continue
        name = names.get(name_offset)
        data = sh_type == 1 and sh_flags & 0x2 and not sh_flags & 0x4 and not name.startswith(_ELF_NOT_DATA)
        sections.append(_Section(name, sh_type, address, offset, size, bool(data)))
    return e_type, sections


class _NameTable:
    """Section names, read whole when small, one by one otherwise (only short names matter)."""

    _WHOLE = 1 << 16
    _LONGEST = 32

    def __init__(self, reader: _Reader, offset: int, size: int) -> None:
        self.reader = reader
        self.offset = offset
        self.size = size
        self.data: Optional[bytes] = None
        if size <= self._WHOLE:
            self.data = reader.read(offset, size, "section names")

    def get(self, at: int) -> str:
        if at >= self.size:
            return ""
        if self.data is not None:
            chunk = self.data[at : at + self._LONGEST]
        else:
            length = min(self._LONGEST, self.size - at)
            chunk = self.reader.read(self.offset + at, length, "section name")
        return chunk.split(b"\0", 1)[0].decode("latin-1")


# Loaded, non-executable PROGBITS sections that cannot hold device code: unwind tables, GOT, TLS...
_ELF_NOT_DATA = (".eh_frame", ".gcc_except_table", ".got", ".tdata", ".init_array", ".fini_array",
                 ".preinit_array", ".interp", ".note", ".gnu")


def _scan_elf(reader: _Reader, ident: bytes, out: List[_Raw], plan: _Plan) -> None:
    e_type, sections = _elf_sections(reader, ident)
    registered = (_ELF_FATBIN, _ELF_RELFATBIN, _ELF_SEGMENT)
    _plan_search(reader, sections, registered, plan)
    if e_type == 1:  # ET_REL: relocatable objects keep their device code in __nv_relfatbin
        _scan_sections(reader, sections, (_ELF_FATBIN, _ELF_RELFATBIN), (), (), out, plan.done)
    else:
        # Linked binaries built with -rdc keep the pre-link device code in __nv_relfatbin too, and a
        # wrapper points at it; the runtime loads the linked image in .nv_fatbin, and cuobjdump lists
        # only that one, so do we (and the search leaves that section alone too).
        _scan_sections(reader, sections, (_ELF_FATBIN,), (_ELF_RELFATBIN,), (_ELF_SEGMENT,), out, plan.done)


def _scan_sections(
    reader: _Reader,
    sections: List[_Section],
    wanted: Tuple[str, ...],
    skipped: Tuple[str, ...],
    segments: Tuple[str, ...],
    out: List[_Raw],
    done: List[Tuple[int, int]],
) -> None:
    """Walk the sections named in wanted; then follow wrappers in segments to containers elsewhere
    (not into sections named in skipped).  done collects the byte ranges read."""
    done.extend(
        (section.offset, section.offset + section.size) for section in sections if section.name in skipped
    )
    for section in sections:
        if section.name not in wanted or section.kind == 8 or section.size == 0:
            continue
        end = section.offset + section.size
        if end > reader.size:
            raise _ScanError("truncated", f"section {section.name} runs past the end of the file")
        if _overlaps(section.offset, end, done):
            continue  # two section headers naming the same bytes: count them once
        _walk_region(reader, section.offset, end, out)
        done.append((section.offset, end))
    for section in sections:
        if section.name in segments and section.kind != 8:
            if section.offset + section.size > reader.size:
                raise _ScanError("truncated", f"section {section.name} runs past the end of the file")
            _follow_wrappers(reader, section, sections, done, out)


# --------------------------------------------------------------------------------------------
# PE


# PE sections that are data but never device code: relocations, exception tables, resources.
_PE_NOT_DATA = (".reloc", ".pdata", ".rsrc", ".edata", ".idata", ".tls")
_PE_CODE = 0x20
_PE_INITIALIZED_DATA = 0x40
_PE_EXECUTE = 0x20000000


def _scan_pe(reader: _Reader, out: List[_Raw], plan: _Plan) -> None:
    (pe_offset,) = struct.unpack("<I", reader.read(0x3C, 4, "DOS header"))
    signature = reader.read(pe_offset, 24, "PE header")
    if signature[:4] != b"PE\0\0":
        raise _ScanError("not-elf-or-pe", "MZ header without a PE signature")
    _machine, count, _stamp, symbols_at, symbol_count, optional_size, _chars = struct.unpack_from(
        "<HHIIIHH", signature, 4
    )
    optional_at = pe_offset + 24
    image_base = 0
    if optional_size >= 2:
        (magic,) = struct.unpack("<H", reader.read(optional_at, 2, "optional header"))
        if magic == 0x20B and optional_size >= 32:
            (image_base,) = struct.unpack("<Q", reader.read(optional_at + 24, 8, "image base"))
        elif magic == 0x10B and optional_size >= 32:
            (image_base,) = struct.unpack("<I", reader.read(optional_at + 28, 4, "image base"))
    table = reader.read(optional_at + optional_size, count * 40, "PE section table")
    strings_at = symbols_at + symbol_count * 18 if symbols_at else 0
    sections = []
    for index in range(count):
        name_raw, virtual_size, rva, raw_size, raw_at = struct.unpack_from("<8sIIII", table, index * 40)
        (characteristics,) = struct.unpack_from("<I", table, index * 40 + 36)
        name = name_raw.split(b"\0", 1)[0].decode("latin-1")
        if name.startswith("/") and name[1:].isdigit() and strings_at:
            name = _pe_long_name(reader, strings_at + int(name[1:])) or name
        size = min(virtual_size, raw_size) if virtual_size else raw_size
        kind = 1 if raw_at and size else 8
        data = (
            kind == 1
            and characteristics & _PE_INITIALIZED_DATA
            and not characteristics & (_PE_CODE | _PE_EXECUTE)
            and name not in _PE_NOT_DATA
        )
        sections.append(_Section(name, kind, image_base + rva, raw_at, size, bool(data)))
    _plan_search(reader, sections, _PE_FATBIN + _PE_SEGMENT, plan)
    _scan_sections(reader, sections, _PE_FATBIN, (), _PE_SEGMENT, out, plan.done)


def _pe_long_name(reader: _Reader, at: int) -> str:
    length = min(64, reader.size - at)
    if length <= 0:
        return ""
    return reader.read(at, length, "PE string table").split(b"\0", 1)[0].decode("latin-1")


# --------------------------------------------------------------------------------------------
# Public entry points


def _open_regular(path: str) -> Tuple[IO[bytes], os.stat_result]:
    """Open for reading without blocking on FIFOs or devices; only regular files pass."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise _NotAFile(f"not a regular file (mode {stat.filemode(info.st_mode)})")
        return os.fdopen(descriptor, "rb", buffering=0), info
    except BaseException:
        os.close(descriptor)
        raise


def _scan(path: str, embedded: bool = True) -> Tuple[BinaryScan, List[_Raw], List[_Raw]]:
    """(scan, registered entries, embedded entries); embedded=False reads the registered ones only."""
    entries: List[_Raw] = []
    found: List[_Raw] = []
    try:
        handle, info = _open_regular(path)
    except _NotAFile as exc:
        return _result(path, "unknown", 0, 0, entries, "not-a-file", str(exc)), entries, found
    except OSError as exc:
        return _result(path, "unknown", 0, 0, entries, "unreadable", _os_detail(exc)), entries, found
    size, mtime_ns = info.st_size, info.st_mtime_ns
    problem: Optional[Tuple[str, str]] = None
    plan = _Plan()
    containers = 0
    with handle:
        reader = _Reader(handle, size)
        try:
            _scan_registered(reader, entries, plan)
        except _ScanError as exc:
            problem = (exc.code, exc.detail)
        except OSError as exc:
            problem = ("unreadable", _os_detail(exc))
        if embedded and plan.regions and (problem is None or problem[0] != "unreadable"):
            # Searched even when the registered fat binary is damaged: the embedded kernels are apart.
            try:
                containers = _search_regions(reader, plan.regions, plan.done, found)
            except _ScanError as exc:
                problem = problem or (exc.code, exc.detail)
            except OSError as exc:
                problem = problem or ("unreadable", _os_detail(exc))
            if problem is not None and found:
                # A registered walk that stopped at a damaged header never marked its bytes as read, so
                # the search may meet the same container again: an entry is counted once, as registered.
                seen = {raw[3] for raw in entries}
                found[:] = [raw for raw in found if raw[3] not in seen]
    error, detail = problem if problem else (None, None)
    result = _result(path, plan.format, size, mtime_ns, entries, error, detail)
    if embedded:
        result = replace(result, searched=True, embedded_containers=containers, **_embedded_counts(found))
    return result, entries, found


def _scan_registered(reader: _Reader, entries: List[_Raw], plan: _Plan) -> None:
    """Read the registered fat binaries; leave the format and the search plan in plan."""
    if reader.size == 0:
        raise _ScanError("empty", "zero-length file")
    head = reader.read(0, min(reader.size, 16), "file header")
    if head[:4] == b"\x7fELF":
        plan.format = "elf"
        if reader.size < 64:
            raise _ScanError("truncated", "ELF header cut short")
        _scan_elf(reader, head, entries, plan)
    elif head[:2] == b"MZ":
        plan.format = "pe"
        _scan_pe(reader, entries, plan)
    elif len(head) >= 4 and struct.unpack_from("<I", head)[0] == FATBIN_MAGIC:
        plan.format = "fatbin"
        _walk_region(reader, 0, reader.size, entries)
    else:
        raise _ScanError("not-elf-or-pe", f"unrecognised header {head[:4].hex()}")


def _os_detail(exc: OSError) -> str:
    name = type(exc).__name__
    return f"{name}: {exc.strerror}" if exc.strerror else f"{name}: {exc}"


def _sorted(counts: Dict[str, int]) -> Dict[str, int]:
    return {name: counts[name] for name in sorted(counts, key=arch_order)}


def _result(
    path: str,
    fmt: str,
    size: int,
    mtime_ns: int,
    entries: List[_Raw],
    error: Optional[str],
    detail: Optional[str],
) -> BinaryScan:
    counts = _count(entries)
    return BinaryScan(
        path=path,
        format=fmt,
        size=size,
        mtime_ns=mtime_ns,
        sass=counts["sass"],
        ptx=counts["ptx"],
        entries=len(entries),
        error=error,
        error_detail=detail,
        other=counts["other"],
    )


def _count(raw: List[_Raw]) -> Dict[str, Dict[str, int]]:
    """Per-kind arch counts; each distinct (kind, arch, flags) is named once (cuFFT has 24,000 entries)."""
    buckets: Dict[str, Dict[str, int]] = {"sass": {}, "ptx": {}, "other": {}}
    for (kind, arch, flags), count in Counter((kind, arch, flags) for kind, arch, flags, _ in raw).items():
        kind_name, arch_name = _describe(kind, arch, flags)
        bucket = buckets.get(kind_name, buckets["other"])
        bucket[arch_name] = bucket.get(arch_name, 0) + count
    return {name: _sorted(bucket) for name, bucket in buckets.items()}


def _embedded_counts(found: List[_Raw]) -> Dict[str, Any]:
    counts = _count(found)
    return {
        "embedded_sass": counts["sass"],
        "embedded_ptx": counts["ptx"],
        "embedded_other": counts["other"],
        "embedded_entries": len(found),
    }


def scan_file(path: str, embedded: bool = True) -> BinaryScan:
    """Scan one file; never raises for bad input (the problem is in ``error``).

    embedded=False reads the registered fat binaries only (what cuobjdump sees), skipping the
    search of the data sections."""
    return _scan(os.fspath(path), embedded)[0]


def scan_entries(path: str, embedded: bool = True) -> Tuple[BinaryScan, List[FatbinEntry]]:
    """Like scan_file, plus every entry: the registered ones in file order (the order cuobjdump
    lists them in), then the embedded ones in file order (``embedded=True`` on those)."""
    scan, registered, found = _scan(os.fspath(path), embedded)
    return scan, [_entry(item) for item in registered] + [_entry(item, True) for item in found]


# --------------------------------------------------------------------------------------------
# Cache


class ScanCache:
    """One JSON file per scanned path (envdoctor's JsonCache, namespace "fatbin"), stamped with
    (realpath, size, mtime_ns, inode).

    A hit re-reads nothing of the binary.  Unreadable, malformed or stale entries are misses;
    JsonCache writes atomically, and a cache that cannot be written costs speed, never correctness.
    """

    def __init__(self, directory: str, embedded: bool = True) -> None:
        self.directory = os.fspath(directory)
        self.embedded = embedded
        self.hits = 0
        self.misses = 0
        self._store: Any = None

    def _entries(self) -> Any:
        if self._store is None:
            # Imported when a cache is first used (hashlib, json, tempfile): a bare scan starts faster.
            from envdoctor.jsoncache import JsonCache

            self._store = JsonCache(self.directory, "fatbin")
        return self._store

    @staticmethod
    def _name(realpath: str) -> str:
        # JsonCache keys must encode as UTF-8; a path that is not (surrogate escapes) keeps its bytes as \x escapes.
        return os.fsencode(realpath).decode("utf-8", "backslashreplace")

    def _key(self, realpath: str, info: os.stat_result) -> Dict[str, Any]:
        return {
            "scanner": SCANNER_VERSION,
            "embedded": self.embedded,
            "realpath": realpath,
            "size": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "inode": info.st_ino,
        }

    def get(self, path: str) -> Optional[BinaryScan]:
        try:
            realpath = os.path.realpath(path)
            info = os.stat(realpath)
            record = self._entries().get(self._name(realpath))
            if not isinstance(record, dict) or record.get("key") != self._key(realpath, info):
                raise ValueError("stale")
            scan = BinaryScan.from_dict(record.get("scan"))
        except (OSError, ValueError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return replace(scan, path=os.fspath(path))  # the name asked for, not the real path

    def put(self, path: str, scan: BinaryScan) -> None:
        if scan.error in ("unreadable", "not-a-file"):
            return
        try:
            realpath = os.path.realpath(path)
            info = os.stat(realpath)
        except OSError:
            return
        if info.st_size != scan.size or info.st_mtime_ns != scan.mtime_ns:
            return  # changed while being scanned: do not pin a result to the new stamp
        record = {"key": self._key(realpath, info), "scan": scan.to_dict()}
        self._entries().put(self._name(realpath), record)


# --------------------------------------------------------------------------------------------
# Many paths


def is_shared_library_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith((".so", ".dll", ".pyd")):
        return True
    return ".so." in lower


def _walk_directory(root: str, problems: List[BinaryScan]) -> Iterator[str]:
    def failed(exc: OSError) -> None:
        where = exc.filename if isinstance(exc.filename, str) else root
        problems.append(BinaryScan(where, "unknown", 0, 0, error="unreadable", error_detail=_os_detail(exc)))

    for directory, subdirectories, files in os.walk(root, onerror=failed, followlinks=False):
        subdirectories.sort()
        for name in sorted(files):
            if is_shared_library_name(name):
                yield os.path.join(directory, name)


def scan_paths(
    paths: Iterable[str], cache: Optional[ScanCache] = None, embedded: bool = True
) -> List[BinaryScan]:
    """Scan files and directories (every shared library below a directory).

    Order: the arguments in the order given; inside a directory, sorted paths.  A file reached
    twice (a symlink to a file already seen, or the same argument twice) is scanned once; real
    files win over symlinks to them.
    """
    if cache is not None and cache.embedded != embedded:
        raise ValueError("the cache was made for the other search mode")
    results: List[BinaryScan] = []
    seen = set()
    for argument in paths:
        argument = os.fspath(argument)
        problems: List[BinaryScan] = []
        is_directory = os.path.isdir(argument)
        candidates = list(_walk_directory(argument, problems)) if is_directory else [argument]
        links = {candidate for candidate in candidates if os.path.islink(candidate)}
        chosen = []
        for candidate in [c for c in candidates if c not in links] + [c for c in candidates if c in links]:
            real = os.path.realpath(candidate)
            if real in seen:
                continue
            seen.add(real)
            chosen.append(candidate)
        order = {candidate: index for index, candidate in enumerate(candidates)}
        chosen.sort(key=order.__getitem__)
        for candidate in chosen:
            scan = cache.get(candidate) if cache is not None else None
            if scan is None:
                scan = scan_file(candidate, embedded)
                if cache is not None:
                    cache.put(candidate, scan)
            results.append(scan)
        results.extend(problems)
    return results
