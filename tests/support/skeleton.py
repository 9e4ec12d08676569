"""Skeletons of real CUDA binaries: the bytes that describe a file's structure, nothing else.

A skeleton keeps the chunks of a real ELF/PE library that a structure reader needs (file and
section headers, section names, fat-binary wrappers, every fat-binary container header and entry
header) and drops the rest (code, data, kernel payloads).  Materialized, it is a sparse file of
the original size in which everything not kept reads as zeros, so every header sits at the offset
it had in the real file.

On disk (``NAME.skel.xz``), xz-compressed:

    b"EDSKEL1\\n"  u64 original size  u32 chunk count
    count x (u64 gap since the end of the previous chunk, u32 length)
    the chunks' bytes, in order

Provenance (wheel, member, hashes, what scanners said about the real file) lives beside it in
``NAME.json``.  Standard library only: the maintainer tool (tools/make_skeleton.py) and the tests
both use this module, and neither needs envdoctor to read or write a skeleton.
"""

from __future__ import annotations

import json
import lzma
import struct
from pathlib import Path
from typing import Any, Dict, Iterable, List, Tuple

MAGIC = b"EDSKEL1\n"
FORMAT = "envdoctor-skeleton/1"
_HEAD = struct.Struct("<QI")
_CHUNK = struct.Struct("<QI")

Chunk = Tuple[int, bytes]


def merge_ranges(ranges: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Sorted, overlapping or touching [start, end) ranges joined."""
    merged: List[Tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def encode(size: int, chunks: List[Chunk]) -> bytes:
    """The compressed skeleton of a file of `size` bytes keeping `chunks` (sorted, disjoint)."""
    table = bytearray(MAGIC + _HEAD.pack(size, len(chunks)))
    previous_end = 0
    for offset, data in chunks:
        if offset < previous_end or offset + len(data) > size:
            raise ValueError(f"chunk at {offset:#x} overlaps the previous one or runs past the end")
        table += _CHUNK.pack(offset - previous_end, len(data))
        previous_end = offset + len(data)
    body = b"".join(data for _offset, data in chunks)
    # Fixed settings, so the same input always gives the same bytes (the slow test compares them).
    return lzma.compress(bytes(table) + body, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)


def decode(blob: bytes) -> Tuple[int, List[Chunk]]:
    raw = lzma.decompress(blob)
    if not raw.startswith(MAGIC):
        raise ValueError("not an envdoctor skeleton")
    size, count = _HEAD.unpack_from(raw, len(MAGIC))
    at = len(MAGIC) + _HEAD.size
    spans = []
    position = 0
    for index in range(count):
        gap, length = _CHUNK.unpack_from(raw, at + index * _CHUNK.size)
        position += gap
        spans.append((position, length))
        position += length
    data_at = at + count * _CHUNK.size
    chunks = []
    for offset, length in spans:
        chunks.append((offset, raw[data_at : data_at + length]))
        data_at += length
    if data_at != len(raw) or position > size:
        raise ValueError("skeleton chunk table does not match its data")
    return size, chunks


def materialize(skeleton: Path, destination: Path) -> Path:
    """Write the skeleton as a sparse file of the original size at destination; return it."""
    size, chunks = decode(Path(skeleton).read_bytes())
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as handle:
        handle.truncate(size)  # a hole: the dropped bytes cost no disk and read as zeros
        for offset, data in chunks:
            handle.seek(offset)
            handle.write(data)
    return destination


_SHARED: Dict[str, Path] = {}
_SHARED_DIR: List[str] = []


def materialize_shared(skeleton: Path, destination: Path) -> Path:
    """materialize(), written once per test session and hard-linked into place after that.

    A cuFFT skeleton writes some 25,000 chunks into about 100 MB of disk blocks (0.4 s); the verdict tests
    build dozens of runtimes from the same few. Tests only read these libraries (the scanner opens them
    read-only); a test that means to damage one writes its own file instead. Where a link cannot be made
    (another file system), the file is written as before."""
    import atexit
    import os
    import shutil
    import tempfile

    key = str(Path(skeleton).resolve())
    master = _SHARED.get(key)
    if master is None:
        if not _SHARED_DIR:
            _SHARED_DIR.append(tempfile.mkdtemp(prefix="envdoctor-skeletons-"))
            atexit.register(shutil.rmtree, _SHARED_DIR[0], True)
        master = materialize(skeleton, Path(_SHARED_DIR[0]) / f"{len(_SHARED)}-{Path(skeleton).name}")
        _SHARED[key] = master
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(master, destination)
    except OSError:
        return materialize(skeleton, destination)
    return destination


def provenance(skeleton: Path) -> Dict[str, Any]:
    """The NAME.json beside NAME.skel.xz."""
    path = Path(str(skeleton)[: -len(".skel.xz")] + ".json")
    return json.loads(path.read_text(encoding="utf-8"))


CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"


def corpus_skeletons() -> List[Path]:
    return sorted(CORPUS.glob("*.skel.xz"))


def materialize_corpus_binary(skeleton: Path, folder: Path) -> Path:
    """The skeleton under its original file name (libtorch_cuda.so, cufft64_11.dll) in folder."""
    name = provenance(skeleton)["original"]["name"]
    return materialize_shared(skeleton, Path(folder) / name)


def chunk_bytes(chunks: List[Chunk]) -> int:
    return sum(len(data) for _offset, data in chunks)

