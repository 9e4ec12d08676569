"""Make the committed skeleton of a real CUDA library taken from a wheel (maintainer tool).

    python tools/make_skeleton.py --all                 # the whole corpus, from the wheel cache
    python tools/make_skeleton.py --only ID [ID...]     # some of it
    python tools/make_skeleton.py WHEEL MEMBER --id ID  # anything else

A skeleton (see tests/support/skeleton.py) keeps the file and section headers, the section name
tables, the fat-binary wrapper sections and every fat-binary container header and entry header,
wherever they sit (the registered .nv_fatbin/.nv_fatb and the containers libraries such as cuFFT
embed in .ldata/.data); payloads, code and data are dropped.  Container magics that do not start a
sane container are kept too (64 bytes each, up to a limit), so the skeleton still tests that the
scanner rejects them.

This tool finds containers with its own whole-file search (it may be slow and use memory; it
runs once per corpus binary), independent of envdoctor's scanner.  Then it records, from the
REAL file: envdoctor's scan (registered and embedded counts), `cuobjdump --list-elf/--list-ptx`
(for a PE, on the registered section extracted as a bare fat binary, since cuobjdump cannot read a
DLL), and, for every distinct (kind, arch, flags) of entry, the arch name `cuobjdump -elf -ptx`
prints for a one-entry fat binary cut from the real file (this checks the scanner's sm_XXa/sm_XXf
labels).  It refuses to write a skeleton that does not scan exactly like the real file.

Wheels come from the cache folder (ENVDOCTOR_CORPUS_WHEELS, default /work/corpus-wheels), filled once:

    pip download --no-deps --only-binary=:all: --python-version 3.11 \\
        --platform manylinux_2_28_x86_64 -d "$ENVDOCTOR_CORPUS_WHEELS" torch==2.14.1
    (win_amd64 for the Windows wheels; see CORPUS below for every name and version)

Nothing here is run by the tests except through the slow regeneration test.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import skeleton  # noqa: E402

WHEELS = Path(os.environ.get("ENVDOCTOR_CORPUS_WHEELS", "/work/corpus-wheels"))
OUT = REPO / "tests" / "fixtures" / "corpus"

MAGIC = struct.pack("<I", 0xBA55ED50)
NOISE_KEPT = 64  # bytes kept at a magic that starts no sane container
NOISE_LIMIT = 4096  # such magics kept per file at most

# (id, wheel file name, member inside the wheel).  Versions as the package index served them on
# 2026-12-05; the ids name what a user would call the build.
CORPUS: List[Tuple[str, str, str]] = [
    ("torch-2.7.1-cu126-linux-libtorch_cuda", "torch-2.7.1-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda.so"),
    ("torch-2.7.1-cu126-linux-libtorch_cuda_linalg", "torch-2.7.1-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda_linalg.so"),
    ("torch-2.8.0-cu128-linux-libtorch_cuda", "torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda.so"),
    ("torch-2.8.0-cu128-linux-libtorch_cuda_linalg", "torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda_linalg.so"),
    ("torch-2.11.0-cu130-linux-libtorch_cuda", "torch-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda.so"),
    ("torch-2.11.0-cu130-linux-libtorch_cuda_linalg", "torch-2.11.0-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda_linalg.so"),
    ("torch-2.14.1-cu130-linux-libtorch_cuda", "torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda.so"),
    ("torch-2.14.1-cu130-linux-libtorch_cuda_linalg", "torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl",
     "torch/lib/libtorch_cuda_linalg.so"),
    ("cufft-cu12-11.4.1.4-linux", "nvidia_cufft_cu12-11.4.1.4-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
     "nvidia/cufft/lib/libcufft.so.11"),
    ("cufft-cu12-11.4.1.4-windows", "nvidia_cufft_cu12-11.4.1.4-py3-none-win_amd64.whl",
     "nvidia/cufft/bin/cufft64_11.dll"),
    ("cufft-cu13-12.5.0.14-linux", "nvidia_cufft-12.5.0.14-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
     "nvidia/cu13/lib/libcufft.so.12"),
    ("cufft-cu13-12.5.0.14-windows", "nvidia_cufft-12.5.0.14-py3-none-win_amd64.whl",
     "nvidia/cu13/bin/x86_64/cufft64_12.dll"),
    ("cublas-cu12-12.9.3.13-linux", "nvidia_cublas_cu12-12.9.3.13-py3-none-manylinux_2_27_x86_64.whl",
     "nvidia/cublas/lib/libcublas.so.12"),
    ("cublaslt-cu12-12.9.3.13-linux", "nvidia_cublas_cu12-12.9.3.13-py3-none-manylinux_2_27_x86_64.whl",
     "nvidia/cublas/lib/libcublasLt.so.12"),
    ("cublas-cu12-12.9.2.10-windows", "nvidia_cublas_cu12-12.9.2.10-py3-none-win_amd64.whl",
     "nvidia/cublas/bin/cublas64_12.dll"),
    ("cublaslt-cu12-12.9.2.10-windows", "nvidia_cublas_cu12-12.9.2.10-py3-none-win_amd64.whl",
     "nvidia/cublas/bin/cublasLt64_12.dll"),
    ("onnxruntime-gpu-1.22.0-linux",
     "onnxruntime_gpu-1.22.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
     "onnxruntime/capi/libonnxruntime_providers_cuda.so"),
    ("onnxruntime-gpu-1.22.0-windows", "onnxruntime_gpu-1.22.0-cp311-cp311-win_amd64.whl",
     "onnxruntime/capi/onnxruntime_providers_cuda.dll"),
    ("onnxruntime-gpu-1.31.1-linux", "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
     "onnxruntime/capi/libonnxruntime_providers_cuda.so"),
    ("onnxruntime-gpu-1.31.1-windows", "onnxruntime_gpu-1.31.1-cp311-cp311-win_amd64.whl",
     "onnxruntime/capi/onnxruntime_providers_cuda.dll"),
]


# ------------------------------------------------------------------------------------------------
# What to keep


def _sane_container(data: Any, at: int) -> Optional[Tuple[int, List[Tuple[int, int]]]]:
    """(end, [(entry offset, entry header size)]) of a container at `at`, or None."""
    if at + 16 > len(data):
        return None
    _magic, version, header_size, body_size = struct.unpack_from("<IHHQ", data, at)
    if version == 0 or header_size < 16 or header_size > 256:
        return None
    cursor = at + header_size
    stop = cursor + body_size
    if body_size < 0x30 or stop > len(data):
        return None
    entries = []
    while cursor < stop:
        if stop - cursor < 0x30:
            return None
        kind, entry_header, payload = struct.unpack_from("<H2xIQ", data, cursor)
        if kind not in (1, 2, 4, 8, 16, 32, 64, 128) or not 0x30 <= entry_header <= 0x400:
            return None
        entries.append((cursor, entry_header))
        cursor += entry_header + payload
    if cursor != stop:
        return None
    return stop, entries


def _structure_ranges(data: Any) -> List[Tuple[int, int]]:
    """File headers, section tables and names, wrapper sections (ELF or PE)."""
    size = len(data)
    ranges = [(0, min(size, 4096))]
    if data[:4] == b"\x7fELF":
        e_phoff, e_shoff = struct.unpack_from("<QQ", data, 32)
        e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHHHH", data, 54)
        ranges.append((e_phoff, e_phoff + e_phnum * e_phentsize))
        ranges.append((e_shoff, e_shoff + e_shnum * e_shentsize))
        headers = [struct.unpack_from("<IIQQQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
        names_at = headers[e_shstrndx][4]
        ranges.append((names_at, names_at + headers[e_shstrndx][5]))
        for name_offset, sh_type, _flags, _address, offset, length in headers:
            name = bytes(data[names_at + name_offset : names_at + name_offset + 32]).split(b"\0")[0]
            if name == b".nvFatBinSegment" and sh_type != 8:
                ranges.append((offset, offset + length))
    elif data[:2] == b"MZ":
        (pe,) = struct.unpack_from("<I", data, 0x3C)
        count, _stamp, symbols_at, symbol_count, optional_size = struct.unpack_from("<HIIIH", data, pe + 6)
        table = pe + 24 + optional_size
        ranges.append((pe, table + count * 40))
        if symbols_at:
            strings = symbols_at + symbol_count * 18
            (length,) = struct.unpack_from("<I", data, strings)
            ranges.append((strings, strings + min(length, 1 << 16)))
        for index in range(count):
            name, virtual_size, _rva, raw_size, raw_at = struct.unpack_from("<8sIIII", data, table + index * 40)
            if name.rstrip(b"\0") == b".nvFatBi":
                ranges.append((raw_at, raw_at + min(raw_size, virtual_size or raw_size)))
    return [(max(0, start), min(size, end)) for start, end in ranges]


def keep_ranges(path: Path) -> Tuple[List[Tuple[int, int]], Dict[str, int]]:
    """The byte ranges of a real file a skeleton keeps, and what was found."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        ranges = _structure_ranges(data)
        containers = entries = noise = 0
        covered = 0
        at = data.find(MAGIC)
        while at != -1:
            found = _sane_container(data, at) if at >= covered else None
            if found:
                stop, headers = found
                containers += 1
                entries += len(headers)
                ranges.append((at, at + 16))
                ranges += [(offset, offset + length) for offset, length in headers]
                covered = stop
                at = data.find(MAGIC, stop)
                continue
            if at >= covered:
                noise += 1
                if noise <= NOISE_LIMIT:
                    ranges.append((at, min(len(data), at + NOISE_KEPT)))
            at = data.find(MAGIC, at + 1)
    return skeleton.merge_ranges(ranges), {"containers": containers, "entries": entries, "other_magics": noise}


# ------------------------------------------------------------------------------------------------
# Oracles


def find_cuobjdump() -> Optional[str]:
    found = os.environ.get("CUOBJDUMP") or shutil.which("cuobjdump")
    if found:
        return found
    for entry in sys.path + [str(REPO / ".venv" / "lib")]:
        for candidate in sorted(glob.glob(os.path.join(entry, "**", "nvidia", "*", "bin", "cuobjdump"),
                                          recursive=True)):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def _run(cuobjdump: str, *args: str) -> str:
    done = subprocess.run([cuobjdump, *args], capture_output=True, text=True, errors="replace")
    return done.stdout


def _listing(cuobjdump: str, option: str, target: Path, pattern: str) -> Tuple[List[str], Optional[str]]:
    """(names in file order, cuobjdump's fatal message or None)."""
    done = subprocess.run([cuobjdump, option, str(target)], capture_output=True, text=True, errors="replace")
    names = re.findall(pattern, done.stdout, re.M)
    message = (done.stdout + done.stderr).strip().splitlines()
    if done.returncode == 0 or any("does not contain device code" in line for line in message):
        return names, None
    fatal = [line for line in message if "fatal" in line] or message[-1:] or [f"exit {done.returncode}"]
    return names, fatal[-1].replace(str(target), target.name)


def _pe_section(path: Path, wanted: Tuple[str, ...]) -> Optional[bytes]:
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        (pe,) = struct.unpack_from("<I", data, 0x3C)
        count = struct.unpack_from("<H", data, pe + 6)[0]
        table = pe + 24 + struct.unpack_from("<H", data, pe + 20)[0]
        for index in range(count):
            name, virtual_size, _rva, raw_size, raw_at = struct.unpack_from("<8sIIII", data, table + index * 40)
            if name.rstrip(b"\0").decode("latin-1") in wanted:
                return bytes(data[raw_at : raw_at + min(raw_size, virtual_size or raw_size)])
    return None


def cuobjdump_listing(cuobjdump: str, path: Path, work: Path) -> Dict[str, Any]:
    """What cuobjdump --list-elf / --list-ptx say about the registered fat binary.  Where cuobjdump
    gives up half-way ("Invalid ELF"), the names it listed before that are kept in order."""
    target = path
    via = "the file"
    with open(path, "rb") as handle:
        is_pe = handle.read(2) == b"MZ"
    if is_pe:
        section = _pe_section(path, (".nv_fatb",))
        if section is None:
            return {"read": "nothing: the DLL has no .nv_fatb section (no registered fat binary)",
                    "sass": {}, "ptx": {}}
        target = work / "registered.fatbin"
        target.write_bytes(section)
        via = "the .nv_fatb section extracted as a bare fat binary (cuobjdump cannot read a DLL)"
    elf, elf_error = _listing(cuobjdump, "--list-elf", target, r"^ELF file +\d+: .*\.(sm_\w+)\.cubin$")
    ptx, ptx_error = _listing(cuobjdump, "--list-ptx", target, r"^PTX file +\d+: .*\.(sm_\w+)\.ptx$")
    record: Dict[str, Any] = {"read": via, "sass": dict(Counter(elf)), "ptx": dict(Counter(ptx))}
    if elf_error or ptx_error:
        record["gave_up"] = {"list_elf": elf_error, "list_ptx": ptx_error}
        record["listed_before_giving_up"] = {"sass": elf, "ptx": ptx}
    return record


def label_check(cuobjdump: str, path: Path, work: Path, entries: list) -> Dict[str, Any]:
    """For each distinct (kind, arch, flags): the scanner's name and the one `cuobjdump -elf -ptx`
    prints for a one-entry fat binary cut out of the real file."""
    seen: Dict[Tuple[str, int, str], Any] = {}
    for entry in entries:
        if entry.kind in ("sass", "ptx") and (entry.kind, entry.flags, entry.arch) not in seen:
            seen[(entry.kind, entry.flags, entry.arch)] = entry
    out = {}
    with open(path, "rb") as handle:
        for (kind, flags, arch), entry in sorted(seen.items(), key=lambda item: str(item[0])):
            handle.seek(entry.offset)
            header = handle.read(0x30)
            _kind, header_size, payload = struct.unpack_from("<H2xIQ", header)
            handle.seek(entry.offset)
            body = handle.read(header_size + payload)
            single = work / "one.fatbin"
            single.write_bytes(struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body)
            printed = re.findall(r"^arch = (\S+)$", _run(cuobjdump, "-elf" if kind == "sass" else "-ptx",
                                                          str(single)), re.M)
            key = f"{kind} {arch} flags={flags:#x}" + (" embedded" if entry.embedded else "")
            out[key] = {"scanner": arch, "cuobjdump": printed[0] if printed else None,
                        "agree": bool(printed) and printed[0] == arch}
    return out


# ------------------------------------------------------------------------------------------------
# Making one


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract(wheel: Path, member: str, folder: Path) -> Path:
    target = folder / Path(member).name
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    return target


def _scan_record(scan: Any) -> Dict[str, Any]:
    record = scan.to_dict()
    for key in ("path", "mtime_ns"):
        record.pop(key)
    return record


def make(identifier: str, wheel: Path, member: str, out: Path, oracles: bool = True) -> Dict[str, Any]:
    from envdoctor.probes.fatbin import SCANNER_VERSION, scan_entries, scan_file

    project, version = wheel.name.split("-")[:2]
    with tempfile.TemporaryDirectory(prefix="skeleton-") as temporary:
        work = Path(temporary)
        real = extract(wheel, member, work)
        ranges, found = keep_ranges(real)
        with open(real, "rb") as handle:
            chunks = []
            for start, end in ranges:
                handle.seek(start)
                chunks.append((start, handle.read(end - start)))
        size = real.stat().st_size
        blob = skeleton.encode(size, chunks)
        real_scan, entries = scan_entries(str(real))
        copy = work / "materialized" / real.name
        skeleton_path = out / f"{identifier}.skel.xz"
        out.mkdir(parents=True, exist_ok=True)
        pending = work / "pending.skel.xz"
        pending.write_bytes(blob)
        skeleton.materialize(pending, copy)
        copy_scan = scan_file(str(copy))
        if _scan_record(copy_scan) != _scan_record(real_scan):
            raise SystemExit(f"{identifier}: the skeleton does not scan like the real file:\n"
                             f"  real     {_scan_record(real_scan)}\n  skeleton {_scan_record(copy_scan)}")
        record: Dict[str, Any] = {
            "format": skeleton.FORMAT,
            "id": identifier,
            "wheel": {"file": wheel.name, "project": project, "version": version, "sha256": sha256_file(wheel)},
            "member": member,
            "original": {"name": real.name, "size": size, "sha256": sha256_file(real)},
            "skeleton": {"file": skeleton_path.name, "sha256": hashlib.sha256(blob).hexdigest(),
                         "kept_bytes": skeleton.chunk_bytes(chunks), "chunks": len(chunks), "xz_bytes": len(blob)},
            "found_by_whole_file_search": found,
            "scanner": {"version": SCANNER_VERSION, **_scan_record(real_scan),
                        "registered_only": _scan_record(scan_file(str(real), embedded=False))},
        }
        cuobjdump = find_cuobjdump() if oracles else None
        if cuobjdump:
            record["cuobjdump"] = {"version": _run(cuobjdump, "--version").strip().splitlines()[-1],
                                   **cuobjdump_listing(cuobjdump, real, work)}
            record["labels"] = label_check(cuobjdump, real, work, entries)
        else:
            record["cuobjdump"] = {"skipped": "cuobjdump not found" if oracles else "not asked for"}
        pending.replace(skeleton_path)
        (out / f"{identifier}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return record


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", nargs="?", help="a wheel file (with MEMBER and --id)")
    parser.add_argument("member", nargs="?", help="path of the library inside the wheel")
    parser.add_argument("--id", help="skeleton name")
    parser.add_argument("--all", action="store_true", help="every corpus binary (see CORPUS)")
    parser.add_argument("--only", nargs="+", metavar="ID", help="these corpus binaries")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    parser.add_argument("--no-oracles", action="store_true", help="skip cuobjdump")
    args = parser.parse_args(argv)
    jobs: List[Tuple[str, Path, str]] = []
    if args.all or args.only:
        for identifier, wheel, member in CORPUS:
            if args.all or identifier in args.only:
                jobs.append((identifier, WHEELS / wheel, member))
        unknown = set(args.only or ()) - {identifier for identifier, _w, _m in CORPUS}
        if unknown:
            parser.error(f"not in CORPUS: {', '.join(sorted(unknown))}")
    elif args.wheel and args.member and args.id:
        jobs.append((args.id, Path(args.wheel), args.member))
    else:
        parser.error("give --all, --only ID..., or WHEEL MEMBER --id ID")
    for identifier, wheel, member in jobs:
        if not wheel.is_file():
            print(f"{identifier}: {wheel} missing; download it first (see --help)", file=sys.stderr)
            return 1
        record = make(identifier, wheel, member, args.out, oracles=not args.no_oracles)
        scan = record["scanner"]
        labels = record.get("labels") or {}
        megabytes, kilobytes = record["original"]["size"] / 1e6, record["skeleton"]["xz_bytes"] / 1e3
        print(f"{identifier}: {megabytes:.0f} MB -> {kilobytes:.0f} kB;"
              f" registered {scan['entries']}, embedded {scan['embedded_entries']} in {scan['embedded_containers']};"
              f" labels {sum(v['agree'] for v in labels.values())}/{len(labels)} agree", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
