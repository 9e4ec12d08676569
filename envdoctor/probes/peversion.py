"""The version strings a Windows DLL carries in its version resource (what Explorer's "Details" shows).

Read from the file's own headers, on any OS, without loading it: PE header -> resource data
directory -> the section holding it -> the VS_VERSION_INFO block -> its StringFileInfo strings.
Only the resource block is read (NVIDIA's nvrtc64_120_0.dll keeps it in a 1 KB .rsrc section of a
90 MB file). NVIDIA's numeric FILEVERSION says nothing (6.14.11.9000 for NVRTC 12.8 and 12.9 alike);
the strings do: ProductName "NVIDIA CUDA 12.9.86 NVRTC Library".
"""

from __future__ import annotations

import os
import struct
from typing import Dict, Optional

from envdoctor.fileio.safeio import open_regular

_MAX_RESOURCES = 4 << 20  # a version resource is a few hundred bytes; icons and manifests stay far below this
_MAX_SECTIONS = 96
_KEYS = ("ProductName", "FileDescription", "ProductVersion", "FileVersion", "OriginalFilename", "CompanyName")
_VERSION_INFO = "VS_VERSION_INFO".encode("utf-16-le")


def _pread(fd: int, offset: int, length: int) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise ValueError("truncated")
    return data


def _resource_block(fd: int) -> Optional[bytes]:
    """The bytes of the resource directory's data, or None when the file is no PE or has none."""
    dos = _pread(fd, 0, 64)
    if dos[:2] != b"MZ":
        return None
    pe = struct.unpack_from("<I", dos, 0x3C)[0]
    head = _pread(fd, pe, 24)
    if head[:4] != b"PE\0\0":
        return None
    sections, optional_size = struct.unpack_from("<H", head, 6)[0], struct.unpack_from("<H", head, 20)[0]
    optional = _pread(fd, pe + 24, optional_size)
    magic = struct.unpack_from("<H", optional, 0)[0]
    directories = {0x10B: 96, 0x20B: 112}.get(magic)
    if directories is None or len(optional) < directories + 3 * 8:
        return None
    rva, size = struct.unpack_from("<II", optional, directories + 2 * 8)  # entry 2: resources
    if not rva or not size or sections > _MAX_SECTIONS:
        return None
    table = _pread(fd, pe + 24 + optional_size, 40 * sections)
    for index in range(sections):
        virtual_size, virtual_address, raw_size, raw_pointer = struct.unpack_from("<IIII", table, 40 * index + 8)
        if virtual_address <= rva < virtual_address + max(virtual_size, raw_size):
            offset = raw_pointer + (rva - virtual_address)
            return _pread(fd, offset, min(size, _MAX_RESOURCES, raw_size - (rva - virtual_address)))
    return None


def _node(block: bytes, at: int, end: int):
    """(length, key, value offset) of the version-resource node at `at` (a WORD-aligned structure:
    wLength, wValueLength, wType, NUL-terminated UTF-16 key, padding to 32 bits, value)."""
    length = struct.unpack_from("<H", block, at)[0]
    if length < 6 or at + length > end:
        raise ValueError("bad node")
    key_end = at + 6
    while key_end + 1 < at + length and block[key_end:key_end + 2] != b"\0\0":
        key_end += 2
    key = block[at + 6:key_end].decode("utf-16-le", errors="replace")
    value = (key_end + 2 + 3) & ~3
    return length, key, value


def _children(block: bytes, start: int, end: int):
    at = start
    while at + 6 <= end:
        length, key, value = _node(block, at, end)
        yield at, length, key, value
        at = (at + length + 3) & ~3


def _strings(block: bytes) -> Dict[str, str]:
    """Key -> value of the StringFileInfo strings of the VS_VERSION_INFO block (walked by its lengths)."""
    start = block.find(_VERSION_INFO) - 6
    while start >= 0 and start % 4:  # the node starts on a 32-bit boundary, 6 bytes before its key
        start = block.find(_VERSION_INFO, start + 7) - 6
    if start < 0:
        return {}
    found: Dict[str, str] = {}
    try:
        length, _key, value = _node(block, start, len(block))
        fixed = struct.unpack_from("<H", block, start + 2)[0]  # VS_FIXEDFILEINFO, skipped
        first = (value + fixed + 3) & ~3
        for at, size, key, child in _children(block, first, start + length):
            if key != "StringFileInfo":
                continue
            for t_at, t_size, _lang, t_child in _children(block, child, at + size):
                for s_at, s_size, name, s_value in _children(block, t_child, t_at + t_size):
                    if name in _KEYS:
                        text = block[s_value:s_at + s_size].decode("utf-16-le", errors="replace")
                        found[name] = text.split("\0", 1)[0].strip()
    except (ValueError, struct.error):
        pass  # a damaged block: what was read before the damage stands
    return found


def version_strings(path: str) -> Dict[str, str]:
    """ProductName, FileDescription, ... of the DLL at `path`; {} when it has none or is no PE."""
    try:
        fd = open_regular(path)
    except OSError:
        return {}
    try:
        block = _resource_block(fd)
    except (OSError, ValueError, struct.error):
        return {}
    finally:
        os.close(fd)
    return _strings(block) if block else {}
