"""ELF (Linux .so): sections, the registered fat binary and the data sections to search."""

from __future__ import annotations

import struct
from typing import List, Optional, Tuple

from envdoctor.probes.fatbin.containers import _follow_wrappers, _overlaps, _Raw, _walk_region
from envdoctor.probes.fatbin.embedded import _Plan, _plan_search
from envdoctor.probes.fatbin.format import _ELF_FATBIN, _ELF_RELFATBIN, _ELF_SEGMENT, _MAX_SECTIONS
from envdoctor.probes.fatbin.reader import _Reader, _ScanError, _Section


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
