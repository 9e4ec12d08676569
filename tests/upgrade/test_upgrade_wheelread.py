"""Reading METADATA out of wheels with range requests: directories bigger than the first read, zip64."""

from __future__ import annotations

import io
import os
import struct
import zipfile

import upgrade_helpers as h

from envdoctor.upgrade import zipmeta
from envdoctor.upgrade.download import Downloader
from envdoctor.upgrade.finder import Finder
from envdoctor.upgrade.sources import Source
from envdoctor.upgrade.wheelread import Http, WheelReader


def test_a_central_directory_larger_than_the_tail_is_read_with_a_second_range(tmp_path):
    files = {f"manyfiles/data/file_{i:05d}.py": b"x = %d\n" % i for i in range(3000)}  # directory ~ 200 KB
    files["manyfiles/blob.bin"] = os.urandom(400 * 1024)
    path = h.build_wheel(str(tmp_path / "w"), "manyfiles", "1.0", files, ["fakedep>=1"])
    size = os.path.getsize(path)
    with h.IndexServer([path]) as server:
        http = Http()
        finder = Finder(Source(index_url=server.url), http)
        link = finder.links("manyfiles")[0]
        info = WheelReader(http, Downloader(str(tmp_path / "cache"))).read(link)
        ranges = [r for r in server.requests if r[1].startswith("/files/")]
    assert "Requires-Dist: fakedep>=1" in info.metadata
    assert info.size == size and info.unpacked and info.unpacked > 400 * 1024
    assert len(ranges) == 3 and all(r[2] for r in ranges)  # tail, rest of the directory, METADATA
    assert server.wheel_bytes_served(os.path.basename(path)) < size // 2  # not the wheel


def test_zip64_end_records_are_followed():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:  # more than 65535 entries: zip64 records
        for i in range(66000):
            archive.writestr(f"d/{i}", b"")
        archive.writestr("pkg-1.0.dist-info/METADATA", b"Name: pkg\nVersion: 1.0\n")
    data = buf.getvalue()
    tail = data[-zipmeta.TAIL_BYTES:]
    at = tail.rfind(zipmeta.EOCD)
    expected = struct.unpack("<II", tail[at + 12:at + 20])
    # writers that always defer to the zip64 record put 0xFFFFFFFF here: only that record then tells
    marked = tail[:at + 12] + b"\xff" * 8 + tail[at + 20:]
    assert zipmeta.directory_span(marked, len(data)) == (expected[1], expected[0])
    offset, size = zipmeta.directory_span(tail, len(data))
    members = zipmeta.parse_directory(data[offset:offset + size])
    assert len(members) == 66001
    meta = zipmeta.metadata_member(members)
    start, end = zipmeta.local_span(meta)
    assert zipmeta.member_bytes(data[start:end + 1], meta) == b"Name: pkg\nVersion: 1.0\n"
