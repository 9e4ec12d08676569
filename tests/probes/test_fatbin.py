"""Tests for the fat-binary scanner against nvcc-built fixtures and the real cuobjdump."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from envdoctor.probes import fatbin
from envdoctor.probes.fatbin import (
    ERROR_CODES,
    MIN_ENTRY_HEADER,
    BinaryScan,
    ScanCache,
    scan_entries,
    scan_file,
    scan_paths,
)
from envdoctor.probes.fatbin.elf import _elf_sections
from envdoctor.probes.fatbin.reader import _Reader

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fatbin"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
NAMES = sorted(name for name in EXPECTED if not name.startswith("_"))
FORMATS = {".so": "elf", ".o": "elf", ".dll": "pe", ".fatbin": "fatbin"}


def elf_name(arch: str) -> str:
    """How `cuobjdump --list-elf` spells a SASS arch: without the family "f" (sm_103f -> sm_103)."""
    return arch[:-1] if arch.endswith("f") else arch


def listed(scan_result: Tuple[BinaryScan, list], as_list_elf: bool = True) -> List[List[str]]:
    """Registered SASS/PTX entries in file order, SASS named as --list-elf names it (or as -elf does)."""
    return [
        [entry.kind, elf_name(entry.arch) if as_list_elf and entry.kind == "sass" else entry.arch]
        for entry in scan_result[1]
        if entry.kind in ("sass", "ptx") and not entry.embedded
    ]


# ------------------------------------------------------------------------------------------------
# Fixtures against the listings cuobjdump gave when they were built


@pytest.mark.parametrize("name", NAMES)
def test_fixture_matches_cuobjdump_listing(name: str) -> None:
    result = scan_entries(str(FIXTURES / name))
    scan = result[0]
    expected = EXPECTED[name]["entries"]
    assert scan.error is None, scan.error_detail
    assert scan.format == FORMATS[Path(name).suffix]
    assert listed(result) == expected  # same names, same order as cuobjdump
    assert {elf_name(arch): n for arch, n in scan.sass.items()} == dict(
        Counter(arch for kind, arch in expected if kind == "sass")
    )
    assert scan.ptx == dict(Counter(arch for kind, arch in expected if kind == "ptx"))
    assert (
        scan.entries
        == len(result[1])
        == sum(scan.sass.values()) + sum(scan.ptx.values()) + sum(scan.other.values())
    )
    assert scan.has_cuda == (scan.entries > 0)
    assert scan.size == (FIXTURES / name).stat().st_size


def test_arch_variants_and_kinds() -> None:
    assert scan_file(str(FIXTURES / "arch_specific.so")).sass == {
        "sm_90a": 2,
        "sm_100a": 2,
        "sm_103": 2,
        "sm_120a": 2,
    }
    family = scan_file(str(FIXTURES / "family.so"))
    # Family targets keep their "f", as `cuobjdump -elf` prints them (--list-elf drops it).
    assert family.sass == {"sm_100f": 2, "sm_103f": 2, "sm_120f": 2}
    assert family.ptx == {"sm_120f": 1}
    assert family.embedded_entries == 0 and family.searched
    assert scan_file(str(FIXTURES / "ptx_only.so")).sass == {}
    lto = scan_file(str(FIXTURES / "lto_only.fatbin"))
    assert (lto.sass, lto.ptx, lto.other, lto.has_cuda) == ({}, {}, {"lto_90": 1}, True)


@pytest.mark.parametrize(
    ("name", "compression"), [("zstd.so", "zstd"), ("lz4.so", "lz4"), ("uncompressed.so", "none")]
)
def test_compression(name: str, compression: str) -> None:
    entries = scan_entries(str(FIXTURES / name))[1]
    assert entries and {entry.compression for entry in entries} == {compression}


def test_dlls_embed_the_listed_fatbin_under_short_and_long_names() -> None:
    payload = (FIXTURES / "windows.fatbin").read_bytes()
    short = (FIXTURES / "windows.dll").read_bytes()
    long = (FIXTURES / "windows_longnames.dll").read_bytes()
    assert payload in short and payload in long
    assert b".nv_fatb" in short and b".nv_fatbin\0" not in short  # name cut to 8 characters
    assert b".nv_fatbin\0" in long  # full name in the COFF string table


# ------------------------------------------------------------------------------------------------
# Live oracle: the real cuobjdump on every fixture


def find_cuobjdump() -> Optional[str]:
    candidates = [os.environ.get("CUOBJDUMP", ""), shutil.which("cuobjdump") or ""]
    for entry in sys.path:
        candidates += sorted(glob.glob(os.path.join(entry, "nvidia", "*", "bin", "cuobjdump")))
        candidates += sorted(glob.glob(os.path.join(entry, "nvidia", "cuda_cuobjdump", "bin", "cuobjdump")))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


CUOBJDUMP = find_cuobjdump()
needs_cuobjdump = pytest.mark.skipif(
    CUOBJDUMP is None, reason="cuobjdump not found (pip install nvidia-cuda-cuobjdump, or set CUOBJDUMP)"
)


def run_cuobjdump(*args: str) -> str:
    assert CUOBJDUMP is not None
    done = subprocess.run(
        [CUOBJDUMP, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, check=False
    )
    return done.stdout.decode("utf-8", "replace")


@needs_cuobjdump
@pytest.mark.parametrize("name", NAMES)
def test_against_live_cuobjdump(name: str) -> None:
    source = str(FIXTURES / EXPECTED[name]["listed_from"])
    result = scan_entries(str(FIXTURES / name))
    # --list-elf / --list-ptx name files "<stem>.<n>.<arch>.cubin|ptx"; --list-elf drops the "f" of
    # family targets (sm_103f SASS is listed as sm_103), --list-ptx keeps it.
    names = {
        "sass": re.findall(
            r"^ELF file +\d+: .*\.(sm_\w+)\.cubin$", run_cuobjdump("--list-elf", source), re.M
        ),
        "ptx": re.findall(r"^PTX file +\d+: .*\.(sm_\w+)\.ptx$", run_cuobjdump("--list-ptx", source), re.M),
    }
    for kind in ("sass", "ptx"):
        mine = [arch for k, arch in listed(result) if k == kind]
        assert mine == names[kind]
    # -elf -ptx print "arch = ..." per entry, in file order, with the family "f" kept, as the scanner does.
    dumped = re.findall(
        r"^Fatbin (elf|ptx) code:\n=+\narch = (\S+)$", run_cuobjdump("-elf", "-ptx", source), re.M
    )
    expected = [["sass" if kind == "elf" else "ptx", arch] for kind, arch in dumped]
    assert listed(result, as_list_elf=False) == expected


# ------------------------------------------------------------------------------------------------
# Bad input


def write(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def fatbin_section(path: Path) -> Tuple[int, int]:
    """(offset, size) of .nv_fatbin, read independently of the scanner."""
    data = path.read_bytes()
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in headers:
        if data[names_at + name :].split(b"\0", 1)[0] == b".nv_fatbin":
            return offset, size
    raise AssertionError("no .nv_fatbin")


def test_bad_inputs(tmp_path: Path) -> None:
    directory = str(tmp_path)
    sm75 = (FIXTURES / "multi_arch.so").read_bytes()
    offset, size = fatbin_section(FIXTURES / "multi_arch.so")

    assert scan_file(write(directory, "empty.so", b"")).error == "empty"
    assert scan_file(write(directory, "text.so", b"hello, world\n")).error == "not-elf-or-pe"
    assert scan_file(write(directory, "tiny.so", b"\x7fELF")).error == "truncated"
    assert scan_file(write(directory, "mz.dll", b"MZ" + b"\0" * 100)).error == "not-elf-or-pe"
    assert scan_file(str(tmp_path / "missing.so")).error == "unreadable"
    assert scan_file(directory).error == "not-a-file"

    elf32 = bytearray(sm75)
    elf32[4] = 1
    assert scan_file(write(directory, "elf32.so", bytes(elf32))).error == "unsupported-elf"

    cut = scan_file(write(directory, "cut.so", sm75[: offset + size // 2]))
    assert cut.error == "truncated" and cut.entries == 0  # section past the end: nothing trusted

    no_magic = bytearray(sm75)
    no_magic[offset : offset + 4] = b"\x01\x02\x03\x04"
    assert scan_file(write(directory, "magic.so", bytes(no_magic))).error == "bad-fatbin-header"

    huge = bytearray(sm75)
    struct.pack_into("<Q", huge, offset + 8, 2**64 - 1)  # container size
    assert scan_file(write(directory, "huge.so", bytes(huge))).error == "truncated"

    # A second container that lies about its size: the first one's entries are still reported.
    first_size = struct.unpack_from("<Q", sm75, offset + 8)[0]
    second = offset + 16 + first_size
    partial = bytearray(sm75)
    struct.pack_into("<Q", partial, second + 8, 2**40)
    scan = scan_file(write(directory, "partial.so", bytes(partial)))
    assert scan.error == "truncated" and scan.sass == {"sm_75": 1, "sm_80": 1, "sm_86": 1, "sm_90": 1}

    tiny_header = bytearray(sm75)
    struct.pack_into("<I", tiny_header, offset + 16 + 4, 8)  # entry header size below the minimum
    assert scan_file(write(directory, "entry.so", bytes(tiny_header))).error == "bad-fatbin-header"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.so"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert scan_file(str(fifo)).error == "not-a-file"
    assert time.monotonic() - started < 2


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_permission_denied(tmp_path: Path) -> None:
    path = Path(write(str(tmp_path), "locked.so", (FIXTURES / "sm75.so").read_bytes()))
    path.chmod(0)
    try:
        assert scan_file(str(path)).error == "unreadable"
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_cost_does_not_grow_with_payload_size(tmp_path: Path) -> None:
    """One entry claiming a 4 GiB payload in a sparse file: listed without touching the payload."""
    raw = (FIXTURES / "windows.fatbin").read_bytes()
    offset = 0
    container = bytearray(raw[offset : offset + 16])
    entry = bytearray(raw[offset + 16 : offset + 16 + 0x50])
    header_size = struct.unpack_from("<I", entry, 4)[0]
    entry = entry[:header_size]
    payload = 4 << 30
    struct.pack_into("<Q", entry, 8, payload)
    struct.pack_into("<Q", container, 8, header_size + payload)
    path = tmp_path / "sparse.fatbin"
    with open(path, "wb") as handle:
        handle.write(bytes(container) + bytes(entry))
        handle.truncate(16 + header_size + payload)
    started = time.monotonic()
    scan = scan_file(str(path))
    assert time.monotonic() - started < 0.5
    assert scan.error is None and (scan.sass, scan.ptx) == ({"sm_86": 1}, {})


# ------------------------------------------------------------------------------------------------
# Property test: mutated fixtures never crash, hang or over-report


MUTANTS = ["multi_arch.so", "family.so", "two_objects.so", "relocatable.o", "windows.dll", "padded.so",
           # The same with .nv_fatbin and .nvFatBinSegment renamed: their containers are left to the search.
           "multi_arch.so+unregistered", "two_objects.so+unregistered"]
HUGE = [0, 1, MIN_ENTRY_HEADER - 1, 0x7FFF, 0xFFFF, 2**31, 2**32 - 1, 2**63, 2**64 - 1]


def header_fields(name: str) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]]]:
    """(offset, width) of size/offset/count fields worth corrupting: file format, fat binary."""
    path = FIXTURES / name
    data = path.read_bytes()
    fields: List[Tuple[int, int]] = []
    if data[:4] == b"\x7fELF":
        fields += [(0x28, 8), (0x3A, 2), (0x3C, 2), (0x3E, 2)]
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        shnum = struct.unpack_from("<H", data, 0x3C)[0]
        for index in range(shnum):
            fields += [(shoff + index * 64, 4), (shoff + index * 64 + 24, 8), (shoff + index * 64 + 32, 8)]
    else:
        pe = struct.unpack_from("<I", data, 0x3C)[0]
        fields += [(0x3C, 4), (pe + 6, 2), (pe + 20, 2)]
        table = pe + 24 + struct.unpack_from("<H", data, pe + 20)[0]
        for index in range(struct.unpack_from("<H", data, pe + 6)[0]):
            at = table + index * 40
            fields += [(at + 8, 4), (at + 16, 4), (at + 20, 4)]
    inner: List[Tuple[int, int]] = []
    for entry in scan_entries(str(path))[1]:  # entry header/payload sizes, container size before
        inner += [(entry.offset + 4, 4), (entry.offset + 8, 8), (entry.offset - 8, 8)]

    def valid(pairs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        return [(at, width) for at, width in pairs if 0 <= at <= len(data) - width]

    return valid(fields), valid(inner)


def original(name: str) -> bytes:
    base, _, variant = name.partition("+")
    data = (FIXTURES / base).read_bytes()
    if variant == "unregistered":  # same lengths: every offset stays where it was
        data = data.replace(b".nv_fatbin\0", b".nv_xxxbin\0").replace(b".nvFatBinSegment\0", b".nvXxxBinSegment\0")
    return data


ORIGINALS = {name: original(name) for name in MUTANTS}
FIELDS = {name: header_fields(name.partition("+")[0]) for name in MUTANTS}

position = st.integers(0, 2**31)  # taken modulo the length of the data
field_write = st.tuples(
    st.just("field"), st.booleans(), position, st.sampled_from(HUGE) | st.integers(0, 2**64 - 1)
)
mutation = st.one_of(
    field_write,
    field_write,  # listed twice: corrupting header fields finds more than random bytes do
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("splice"), position, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("truncate"), position),
)


def mutate(name: str, steps: list) -> bytes:
    data = bytearray(ORIGINALS[name])
    for step in steps:
        if not data:
            break
        if step[0] == "flip":
            data[step[1] % len(data)] ^= 1 << step[2]
        elif step[0] == "truncate":
            del data[step[1] % len(data) :]
        elif step[0] == "splice":
            at = step[1] % len(data)
            data[at : at + len(step[2])] = step[2]
        else:
            choices = FIELDS[name][1 if step[1] else 0]
            at, width = choices[step[2] % len(choices)]
            if at + width <= len(data):
                data[at : at + width] = (step[3] % (1 << (8 * width))).to_bytes(width, "little")
    return bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(MUTANTS), steps=st.lists(mutation, min_size=1, max_size=4))
# A registered walk that stops at a damaged header, then meets the same container in the search.
@example(name="two_objects.so", steps=[("field", False, 48, 32767), ("field", True, 3, 0)])
def test_mutated_fixtures_never_crash(name: str, steps: list) -> None:
    data = mutate(name, steps)
    with tempfile.TemporaryDirectory() as directory:
        path = write(directory, name, data)
        started = time.monotonic()
        scan, entries = scan_entries(path)
        elapsed = time.monotonic() - started
    assert isinstance(scan, BinaryScan)
    assert elapsed < 1.0
    assert scan.error is None or scan.error in ERROR_CODES
    # A damaged registered section may leave its containers to the search: counted once, either way.
    assert scan.entries + scan.embedded_entries == len(entries) <= len(data) // MIN_ENTRY_HEADER
    assert scan.entries == sum(scan.sass.values()) + sum(scan.ptx.values()) + sum(scan.other.values())
    assert scan.embedded_entries == sum(
        sum(counts.values()) for counts in (scan.embedded_sass, scan.embedded_ptx, scan.embedded_other)
    )
    assert len({entry.offset for entry in entries}) == len(entries)
    assert all(0 <= entry.offset < len(data) for entry in entries)
    assert BinaryScan.from_dict(json.loads(json.dumps(scan.to_dict()))) == scan


# ------------------------------------------------------------------------------------------------
# Serialisation and the cache


def test_round_trip_and_rejects_garbage() -> None:
    scan = scan_file(str(FIXTURES / "family.so"))
    assert BinaryScan.from_dict(json.loads(json.dumps(scan.to_dict()))) == scan
    for bad in [
        None,
        [],
        {"path": 1},
        {**scan.to_dict(), "sass": {"sm_90": "x"}},
        {**scan.to_dict(), "size": -1},
    ]:
        with pytest.raises(ValueError):
            BinaryScan.from_dict(bad)


def copy_fixture(directory: Path, name: str, target: str) -> Path:
    path = directory / target
    shutil.copyfile(FIXTURES / name, path)
    return path


def test_cache_hit_reads_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = copy_fixture(tmp_path, "family.so", "libfamily.so")
    cache = ScanCache(str(tmp_path / "cache"))
    first = scan_paths([str(library)], cache)
    assert cache.misses == 1

    def no_scanning(path: str) -> BinaryScan:
        raise AssertionError(f"rescanned {path}")

    monkeypatch.setattr(fatbin, "scan_file", no_scanning)
    assert scan_paths([str(library)], cache) == first
    assert cache.hits == 1
    leftovers = [name for name in os.listdir(tmp_path / "cache") if not name.endswith(".json")]
    assert leftovers == [] and all(not name.startswith(".tmp") for name in os.listdir(tmp_path / "cache"))


def test_cache_key_is_size_and_mtime(tmp_path: Path) -> None:
    library = copy_fixture(tmp_path, "sm75.so", "libx.so")
    cache = ScanCache(str(tmp_path / "cache"))
    original = scan_paths([str(library)], cache)[0]
    assert original.sass == {"sm_75": 2}

    # Same size and mtime, other content (sm_75 -> sm_86 in the entry headers): the cached answer.
    info = library.stat()
    data = bytearray(library.read_bytes())
    for entry in scan_entries(str(library))[1]:
        struct.pack_into("<I", data, entry.offset + 0x1C, 86)
    library.write_bytes(bytes(data))
    os.utime(library, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert scan_paths([str(library)], cache)[0] == original

    # A new mtime: scanned again, and the new answer cached.
    os.utime(library, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    rescanned = scan_paths([str(library)], cache)[0]
    assert rescanned.sass == {"sm_86": 2}
    assert cache.get(str(library)) == rescanned


def test_corrupt_cache_files_are_ignored(tmp_path: Path) -> None:
    library = copy_fixture(tmp_path, "sm75.so", "liby.so")
    cache = ScanCache(str(tmp_path / "cache"))
    expected = scan_paths([str(library)], cache)[0]
    (entry,) = (tmp_path / "cache").iterdir()
    for garbage in [b"", b"{not json", b"[]", b'{"key": 1, "scan": 2}', json.dumps({"key": None}).encode()]:
        entry.write_bytes(garbage)
        assert cache.get(str(library)) is None
        assert scan_paths([str(library)], cache)[0] == expected
    record = json.loads(entry.read_text(encoding="utf-8"))
    record["value"]["scan"]["sass"] = "broken"
    entry.write_text(json.dumps(record), encoding="utf-8")
    assert cache.get(str(library)) is None


def test_cache_answers_under_the_path_asked(tmp_path: Path) -> None:
    library = copy_fixture(tmp_path, "sm75.so", "libz.so.1")
    link = tmp_path / "libz.so"
    link.symlink_to(library.name)
    cache = ScanCache(str(tmp_path / "cache"))
    scan_paths([str(library)], cache)
    assert cache.get(str(link)).path == str(link)


# ------------------------------------------------------------------------------------------------
# Many paths


def test_scan_paths_walks_directories(tmp_path: Path) -> None:
    root = tmp_path / "site-packages"
    (root / "pkg" / "lib").mkdir(parents=True)
    (root / "other").mkdir()
    copy_fixture(root / "pkg" / "lib", "sm75.so", "libb.so.12")
    copy_fixture(root / "pkg", "windows.dll", "a.pyd")
    copy_fixture(root / "other", "family.so", "z.dll")
    copy_fixture(root / "other", "relocatable.o", "kernel.o")  # not a library name: not picked up
    (root / "pkg" / "lib" / "libb.so").symlink_to("libb.so.12")  # seen already
    (root / "pkg" / "lib" / "liba.so").symlink_to("libb.so.12")  # seen already, sorts first
    (root / "readme.txt").write_text("hi", encoding="utf-8")
    explicit = str(root / "other" / "kernel.o")

    results = scan_paths([str(root), explicit, str(root / "other" / "z.dll")])
    assert [os.path.relpath(scan.path, root) for scan in results] == [
        os.path.join("other", "z.dll"),
        os.path.join("pkg", "a.pyd"),
        os.path.join("pkg", "lib", "libb.so.12"),
        os.path.join("other", "kernel.o"),
    ]
    assert [scan.format for scan in results] == ["elf", "pe", "elf", "elf"]
    assert results == scan_paths([str(root), explicit])  # deterministic


def test_scan_paths_symlink_to_outside_file(tmp_path: Path) -> None:
    outside = copy_fixture(tmp_path, "sm75.so", "real.so")
    root = tmp_path / "tree"
    root.mkdir()
    (root / "libc.so").symlink_to(outside)
    (results,) = scan_paths([str(root)])
    assert results.path == str(root / "libc.so") and results.sass == {"sm_75": 2}


def test_without_pread_as_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = scan_file(str(FIXTURES / "family.so"))
    monkeypatch.delattr(os, "pread", raising=False)
    assert scan_file(str(FIXTURES / "family.so")) == expected


# ------------------------------------------------------------------------------------------------
# Embedded containers: the search of the data sections (nvcc fixtures with sections renamed; the
# real cuFFT/cuBLAS/torch cases are in test_corpus.py)


def renamed(name: str, *pairs: Tuple[bytes, bytes]) -> bytes:
    data = (FIXTURES / name).read_bytes()
    for old, new in pairs:
        assert len(old) == len(new) and data.count(old) <= 1
        data = data.replace(old, new)
    assert b".nv_fatbin\0" not in data
    return data


UNREGISTERED = ((b".nv_fatbin\0", b".nv_xxxbin\0"), (b".nvFatBinSegment\0", b".nvXxxBinSegment\0"))


@pytest.mark.parametrize("name", ["multi_arch.so", "family.so", "two_objects.so", "padded.so"])
def test_unregistered_containers_in_a_data_section_are_found_as_embedded(tmp_path: Path, name: str) -> None:
    original = scan_entries(str(FIXTURES / name))
    path = write(str(tmp_path), name, renamed(name, *UNREGISTERED))
    scan, entries = scan_entries(path)
    assert scan.error is None and scan.searched
    assert (scan.sass, scan.ptx, scan.entries) == ({}, {}, 0)
    assert (scan.embedded_sass, scan.embedded_ptx) == (original[0].sass, original[0].ptx)
    assert scan.embedded_entries == original[0].entries and scan.has_cuda
    assert [(e.kind, e.arch, e.offset) for e in entries] == [(e.kind, e.arch, e.offset) for e in original[1]]
    assert all(entry.embedded for entry in entries)
    assert scan.all_sass == original[0].sass
    skipped = scan_file(path, embedded=False)  # the registered-only mode: what the old scanner saw
    assert (skipped.entries, skipped.embedded_entries, skipped.searched, skipped.has_cuda) == (0, 0, False, False)


def test_containers_reached_through_wrappers_are_registered_and_not_counted_twice(tmp_path: Path) -> None:
    """Only .nv_fatbin renamed: the runtime still registers its containers via .nvFatBinSegment."""
    path = write(str(tmp_path), "multi_arch.so", renamed("multi_arch.so", UNREGISTERED[0]))
    scan = scan_file(path)
    assert scan.sass == scan_file(str(FIXTURES / "multi_arch.so")).sass
    assert scan.embedded_entries == 0 and scan.embedded_containers == 0


def test_registered_sections_are_not_searched_again() -> None:
    for name in NAMES:
        scan = scan_file(str(FIXTURES / name))
        assert scan.embedded_entries == 0, name


def test_a_candidate_that_fails_the_checks_is_skipped_and_the_rest_found(tmp_path: Path) -> None:
    data = bytearray(renamed("two_objects.so", *UNREGISTERED))
    first = scan_entries(str(FIXTURES / "two_objects.so"))[1][0]
    struct.pack_into("<H", data, first.offset, 0)  # entry kind 0: no real container has it
    scan = scan_file(write(str(tmp_path), "two_objects.so", bytes(data)))
    assert scan.error is None
    assert 0 < scan.embedded_entries < scan_file(str(FIXTURES / "two_objects.so")).entries


def test_a_data_section_full_of_false_magics_stops_the_search_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bytearray(renamed("family.so", *UNREGISTERED))
    registered = scan_entries(str(FIXTURES / "family.so"))[1]
    start = registered[0].offset - 16
    end = max(entry.offset for entry in registered) + MIN_ENTRY_HEADER
    data[start:end] = (struct.pack("<I", fatbin.FATBIN_MAGIC) * ((end - start) // 4 + 1))[: end - start]
    path = write(str(tmp_path), "family.so", bytes(data))
    started = time.monotonic()
    scan = scan_file(path)
    assert time.monotonic() - started < 2.0
    assert scan.error is None and scan.embedded_entries == 0  # thousands of hits, none sane
    monkeypatch.setattr(fatbin.embedded, "_MAX_REJECTED", 50)  # read where the search uses it
    limited = scan_file(path)
    assert limited.error == "search-limit" and limited.error in ERROR_CODES
    assert limited.embedded_entries == 0


def test_the_search_window_edge_does_not_hide_a_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows far smaller than a container, and magics cut by a window edge, change nothing."""
    path = write(str(tmp_path), "multi_arch.so", renamed("multi_arch.so", *UNREGISTERED))
    expected = scan_file(path)
    for window in (16, 17, 18, 19, 64, 4099):
        monkeypatch.setattr(fatbin.embedded, "_SEARCH_WINDOW", window)
        assert scan_file(path) == expected, window


def test_the_cache_keeps_the_two_search_modes_apart(tmp_path: Path) -> None:
    path = write(str(tmp_path), "libcuda_thing.so", renamed("multi_arch.so", *UNREGISTERED))
    registered_only = ScanCache(str(tmp_path / "cache"), embedded=False)
    full = ScanCache(str(tmp_path / "cache"), embedded=True)
    assert scan_paths([path], cache=registered_only, embedded=False)[0].embedded_entries == 0
    assert scan_paths([path], cache=full)[0].embedded_entries == 8  # not the registered-only answer
    assert (registered_only.misses, full.misses) == (1, 1)
    assert scan_paths([path], cache=full)[0].embedded_entries == 8 and full.hits == 1
    with pytest.raises(ValueError):
        scan_paths([path], cache=full, embedded=False)


def test_a_magic_at_the_very_end_of_a_data_section_is_no_problem(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "multi_arch.so").read_bytes())
    with open(FIXTURES / "multi_arch.so", "rb") as handle:
        _type, sections = _elf_sections(_Reader(handle, len(data)), bytes(data[:16]))
    section = next(s for s in sections if s.name == ".data")
    end = section.offset + section.size
    for back in (4, 5, 15, 16, 17):
        mutated = bytearray(data)
        mutated[end - back : end - back + 4] = struct.pack("<I", fatbin.FATBIN_MAGIC)
        scan = scan_file(write(str(tmp_path), "multi_arch.so", bytes(mutated)))
        assert scan.error is None and scan.embedded_entries == 0, back


def test_a_scan_is_the_coverage_summary_a_check_keeps() -> None:
    """One type for a binary's arch counts: the scanner's BinaryScan is a model.BinaryCoverageSummary
    (same fields, same union of registered and embedded kernels), and summary() is what check keeps."""
    from envdoctor.model import BinaryCoverageSummary

    scan = fatbin.BinaryScan(path="/lib/libcufft.so", format="elf", size=10, mtime_ns=1, entries=1,
                             sass={"sm_90": 1}, embedded_sass={"sm_120": 4, "sm_80": 2, "sm_90": 1},
                             embedded_entries=7, searched=True)
    assert isinstance(scan, BinaryCoverageSummary)
    kept = scan.summary()
    assert type(kept) is BinaryCoverageSummary
    assert kept == BinaryCoverageSummary("/lib/libcufft.so", {"sm_90": 1}, {}, None,
                                         {"sm_120": 4, "sm_80": 2, "sm_90": 1}, {}, True)
    assert list(kept.all_sass.items()) == list(scan.all_sass.items()) == [("sm_80", 2), ("sm_90", 2), ("sm_120", 4)]
    assert fatbin.BinaryScan.from_dict(scan.to_dict()) == scan
