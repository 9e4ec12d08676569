"""Reading single members (METADATA, torch/version.py) out of a wheel without reading the wheel.

A zip file ends with its central directory: the list of members with their sizes and where each one
starts. Given the last bytes of a wheel (one HTTP range request) and then the bytes of one member
(another), we know a wheel's dependencies and build without downloading the hundreds of megabytes in
between. The parsing here works on bytes only; where they come from is the caller's business.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import List, Optional, Tuple

EOCD = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EOCD = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"
LOCAL_HEADER = 30
TAIL_BYTES = 64 * 1024  # EOCD (+ zip64 records and comment) and, for small wheels, the whole directory
# A wheel is anyone's file: what we read of it is bounded. torch's METADATA is ~40 KB and its version.py
# under 1 KB; a long README in METADATA makes a few hundred KB. Only the headers are ever parsed
# (the body is the description): they are a few KB, with tens of Requires-Dist lines.
MAX_MEMBER_BYTES = 4 * 1024 * 1024
MAX_HEADER_BYTES = 256 * 1024
MAX_REQUIRES = 1000  # real wheels: torch ~25, the largest with every extra a few hundred
MAX_REQUIREMENT_CHARS = 1024


class ZipFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Member:
    name: str
    method: int  # 0 stored, 8 deflated
    compressed_size: int
    file_size: int
    header_offset: int


def directory_span(tail: bytes, total_size: int) -> Tuple[int, int]:
    """(offset, size) of the central directory, from the last bytes of a zip of `total_size` bytes."""
    at = tail.rfind(EOCD)
    if at < 0 or len(tail) - at < 22:
        raise ZipFormatError("no end-of-central-directory record in the last bytes")
    _sig, _disk, _cd_disk, _n_disk, _n, cd_size, cd_offset, _comment = struct.unpack("<4sHHHHIIH", tail[at:at + 22])
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        loc = tail.rfind(ZIP64_LOCATOR, 0, at)
        if loc < 0:
            raise ZipFormatError("zip64 archive without a zip64 locator")
        (eocd64_offset,) = struct.unpack("<Q", tail[loc + 8:loc + 16])
        start = len(tail) - (total_size - eocd64_offset)
        if start < 0 or tail[start:start + 4] != ZIP64_EOCD:
            raise ZipFormatError("zip64 end record outside the bytes read")
        cd_size, cd_offset = struct.unpack("<QQ", tail[start + 40:start + 56])
    return cd_offset, cd_size


def parse_directory(data: bytes) -> List[Member]:
    members = []
    pos = 0
    while pos + 46 <= len(data) and data[pos:pos + 4] == CENTRAL:
        (method, csize, usize, name_len, extra_len, comment_len, offset) = (
            struct.unpack("<H", data[pos + 10:pos + 12])[0],
            *struct.unpack("<II", data[pos + 20:pos + 28]),
            *struct.unpack("<HHH", data[pos + 28:pos + 34]),
            struct.unpack("<I", data[pos + 42:pos + 46])[0],
        )
        name = data[pos + 46:pos + 46 + name_len].decode("utf-8", errors="replace")
        extra = data[pos + 46 + name_len:pos + 46 + name_len + extra_len]
        usize, csize, offset = _zip64_fields(extra, usize, csize, offset)
        members.append(Member(name, method, csize, usize, offset))
        pos += 46 + name_len + extra_len + comment_len
    return members


def _zip64_fields(extra: bytes, usize: int, csize: int, offset: int) -> Tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos:pos + 4])
        body = extra[pos + 4:pos + 4 + size]
        if tag == 1:
            values = [struct.unpack("<Q", body[i:i + 8])[0] for i in range(0, len(body) - 7, 8)]
            it = iter(values)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + size
    return usize, csize, offset


def local_span(member: Member, slack: int = 1024) -> Tuple[int, int]:
    """(start, end inclusive) of the bytes that hold the member's local header and data; the local
    header's extra field may differ in length from the directory's, hence the slack."""
    return member.header_offset, member.header_offset + LOCAL_HEADER + len(member.name.encode()) + slack + \
        member.compressed_size - 1


def member_bytes(local: bytes, member: Member) -> Optional[bytes]:
    """The member's content from bytes starting at its local header; None when too few were read."""
    if local[:4] != LOCAL:
        raise ZipFormatError(f"no local header for {member.name}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = LOCAL_HEADER + name_len + extra_len
    raw = local[start:start + member.compressed_size]
    if len(raw) < member.compressed_size:
        return None
    if member.method == 0:
        return raw[:MAX_MEMBER_BYTES + 1]
    if member.method == 8:
        # bounded: a member that says 1 KB may inflate to gigabytes; the caller sees the excess byte
        return zlib.decompressobj(-15).decompress(raw, MAX_MEMBER_BYTES + 1)
    raise ZipFormatError(f"unsupported compression method {member.method} for {member.name}")


def check_member_size(name: str, declared: int, data: Optional[bytes] = None) -> None:
    """Refuse a member too large to be what a wheel's METADATA or version.py is (said or found)."""
    if declared > MAX_MEMBER_BYTES or (data is not None and len(data) > MAX_MEMBER_BYTES):
        raise ZipFormatError(f"{name} is larger than {MAX_MEMBER_BYTES >> 20} MiB")


def metadata_headers(text: str) -> str:
    """The header block of a METADATA file (up to the first empty line: the body is the description),
    refused when it is larger or holds more requirements than any real wheel's."""
    end = len(text)
    for sep in ("\n\n", "\r\n\r\n"):
        at = text.find(sep)
        if 0 <= at < end:
            end = at
    headers = text[:end + 1]
    if len(headers) > MAX_HEADER_BYTES:
        raise ZipFormatError(f"METADATA headers are larger than {MAX_HEADER_BYTES >> 10} KiB")
    requires = [line for line in headers.splitlines() if line[:14].lower() == "requires-dist:"]
    if len(requires) > MAX_REQUIRES:
        raise ZipFormatError(f"METADATA lists {len(requires)} requirements (at most {MAX_REQUIRES} are read)")
    if any(len(line) > MAX_REQUIREMENT_CHARS for line in requires):
        raise ZipFormatError(f"a Requires-Dist line of METADATA is longer than {MAX_REQUIREMENT_CHARS} characters")
    return headers


def metadata_member(members: List[Member]) -> Optional[Member]:
    """The wheel's top-level `<name>-<version>.dist-info/METADATA`."""
    for member in members:
        parts = member.name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            return member
    return None


def find_member(members: List[Member], name: str) -> Optional[Member]:
    return next((m for m in members if m.name == name), None)
