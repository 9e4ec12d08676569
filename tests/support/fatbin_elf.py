"""Small real ELF64 shared objects whose fat-binary headers list given archs (payloads empty).

Used where a test needs the real scanner to read a library with a known arch list and the corpus of
real skeletons has no file for it. Layout as nvcc/ld write it: a `.nv_fatbin` section of back-to-back
containers (magic 0xBA55ED50), each entry header 64 bytes with the arch at +0x1C and the flags at
+0x28; optionally a `.ldata` section with more containers that the runtime does not register (what
cuFFT does with its real kernels).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterable, List, Tuple

FATBIN_MAGIC = 0xBA55ED50
FLAG_64BIT_LINUX = 0x11
FLAG_ARCH_SPECIFIC = 0x100000  # the "a" variants (sm_90a), as measured on libtorch_cuda.so
SHF_WRITE, SHF_ALLOC = 0x1, 0x2


def _entry(name: str) -> bytes:
    kind = 1 if name.startswith("compute_") else 2
    digits = name.split("_", 1)[1]
    flags = FLAG_64BIT_LINUX
    if digits.endswith("a"):
        flags |= FLAG_ARCH_SPECIFIC
        digits = digits[:-1]
    header = bytearray(64)
    struct.pack_into("<HHIQ", header, 0, kind, 0x0101, 64, 0)
    struct.pack_into("<I", header, 0x1C, int(digits))
    struct.pack_into("<Q", header, 0x28, flags)
    return bytes(header)


def container(archs: Iterable[str]) -> bytes:
    body = b"".join(_entry(a) for a in archs)
    return struct.pack("<IHHQ", FATBIN_MAGIC, 1, 16, len(body)) + body


def write_elf(path: Path, registered: Iterable[str], embedded: Iterable[str] = ()) -> Path:
    """An ELF64 .so whose .nv_fatbin lists `registered`, and whose .ldata holds `embedded` containers."""
    sections: List[Tuple[str, int, int, bytes]] = [(".nv_fatbin", 1, SHF_ALLOC, container(registered))]
    embedded = list(embedded)
    if embedded:
        # One container per arch, 16-byte aligned, as the real cuFFT packs many small ones.
        blob = b"".join(_pad(container([arch])) for arch in embedded)
        sections.append((".ldata", 1, SHF_ALLOC | SHF_WRITE, blob))
    names = b"\0" + b"".join(name.encode() + b"\0" for name, *_ in sections) + b".shstrtab\0"
    data = bytearray(64)
    placed = []
    for name, kind, flags, payload in sections:
        data += b"\0" * (-len(data) % 16)
        placed.append((names.index(name.encode() + b"\0"), kind, flags, len(data), len(payload)))
        data += payload
    strtab_offset = len(data)
    data += names
    data += b"\0" * (-len(data) % 8)
    shoff = len(data)
    headers = [bytes(64)]
    for name_offset, kind, flags, offset, size in placed:
        headers.append(struct.pack("<IIQQQQIIQQ", name_offset, kind, flags, 0, offset, size, 0, 0, 16, 0))
    headers.append(struct.pack("<IIQQQQIIQQ", names.index(b".shstrtab\0"), 3, 0, 0, strtab_offset, len(names),
                               0, 0, 1, 0))
    data += b"".join(headers)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into("<16sHHIQQQIHHHHHH", data, 0, ident, 3, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64,
                     len(headers), len(headers) - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def _pad(blob: bytes) -> bytes:
    return blob + b"\0" * (-len(blob) % 16)


IMAGE_SCN_CNT_INITIALIZED_DATA, IMAGE_SCN_MEM_READ, IMAGE_SCN_MEM_WRITE = 0x40, 0x40000000, 0x80000000


def write_pe(path: Path, registered: Iterable[str], embedded: Iterable[str] = ()) -> Path:
    """A PE32+ DLL whose .nv_fatb lists `registered`, and whose .data holds `embedded` containers
    (cufft64_11.dll keeps its real kernels in .data behind a one-entry registered stub)."""
    sections: List[Tuple[bytes, int, bytes]] = [
        (b".nv_fatb", IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ, container(registered))]
    embedded = list(embedded)
    if embedded:
        sections.append((b".data", IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE,
                         b"".join(_pad(container([arch])) for arch in embedded)))
    pe_offset, optional_size = 0x80, 240
    table_at = pe_offset + 24 + optional_size
    data_at = table_at + 40 * len(sections)
    data_at += -data_at % 0x200
    image = bytearray(data_at)
    image[0:2] = b"MZ"
    struct.pack_into("<I", image, 0x3C, pe_offset)
    image[pe_offset:pe_offset + 4] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", image, pe_offset + 4, 0x8664, len(sections), 0, 0, 0, optional_size, 0x2022)
    struct.pack_into("<H", image, pe_offset + 24, 0x20B)  # PE32+
    struct.pack_into("<Q", image, pe_offset + 24 + 24, 0x180000000)  # image base
    rva = 0x1000
    for index, (name, characteristics, payload) in enumerate(sections):
        raw_at = len(image)
        image += payload + b"\0" * (-len(payload) % 0x200)
        struct.pack_into("<8sIIIIIIHHI", image, table_at + 40 * index, name, len(payload), rva,
                         len(payload) + (-len(payload) % 0x200), raw_at, 0, 0, 0, 0, characteristics)
        rva += (len(payload) // 0x1000 + 1) * 0x1000
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(image))
    return path
