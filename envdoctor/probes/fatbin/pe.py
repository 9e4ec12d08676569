"""PE (Windows .dll/.pyd): sections, the registered fat binary and the data sections to search."""

from __future__ import annotations

import struct
from typing import List

from envdoctor.probes.fatbin.containers import _Raw
from envdoctor.probes.fatbin.elf import _scan_sections
from envdoctor.probes.fatbin.embedded import _Plan, _plan_search
from envdoctor.probes.fatbin.format import _PE_FATBIN, _PE_SEGMENT
from envdoctor.probes.fatbin.reader import _Reader, _ScanError, _Section

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
