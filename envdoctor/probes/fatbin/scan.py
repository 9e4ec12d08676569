"""The public entry points: one file, and many paths (folders walked for shared libraries)."""

from __future__ import annotations

import os
import stat
import struct
from collections import Counter
from dataclasses import replace
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Tuple

from envdoctor.probes.fatbin.cache import ScanCache
from envdoctor.probes.fatbin.containers import _describe, _entry, _Raw, _walk_region
from envdoctor.probes.fatbin.elf import _scan_elf
from envdoctor.probes.fatbin.embedded import _Plan, _search_regions
from envdoctor.probes.fatbin.format import FATBIN_MAGIC
from envdoctor.probes.fatbin.pe import _scan_pe
from envdoctor.probes.fatbin.reader import _NotAFile, _Reader, _ScanError
from envdoctor.probes.fatbin.results import BinaryScan, FatbinEntry, _sorted


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
# Many paths


def is_shared_library_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith((".so", ".dll", ".pyd")):
        return True
    return ".so." in lower


def _walk_directory(root: str, problems: List[BinaryScan]) -> Iterator[str]:
    def failed(exc: OSError) -> None:
        where = exc.filename if isinstance(exc.filename, str) else root
        problems.append(BinaryScan(path=where, error="unreadable", error_detail=_os_detail(exc)))

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
