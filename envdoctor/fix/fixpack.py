"""A "fix pack": a folder or .zip of wheels a support person hands over, so B works offline.

A zip is read in two steps. `inspect_pack` reads only its directory (names, sizes, methods, flags) when
fix starts, so a pack envdoctor cannot unpack is refused before any work, with what to do about it.
`wheel_folder` unpacks it into the user cache (keyed by its content hash) only once B is chosen:
choosing A or C costs no disk. It takes only top-level or nested `*.whl` members with plain names:
nothing is written outside that folder, whatever the zip says.

Bounds: a member must not inflate more than wheels do (a wheel is itself compressed: a 3 MB pack that
unpacks to 3 GB is not wheels), the whole must fit the free space with a margin, and the cache keeps
the most recently used packs only (older unpacked packs and half-written ones are removed).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from typing import List, Optional, Tuple

from envdoctor.errors import UsageError
from envdoctor.fileio.paths import cache_dir, trusted_tree

MAX_PACK_BYTES = 32 * 1024 ** 3  # unpacked; torch CUDA wheels are 1-3 GB each
MAX_RATIO = 20  # inflated / stored size of one member; wheels are zips already (real ones: 1.0-1.3)
SMALL_MEMBER = 1 << 20  # below this, a ratio says nothing (a tiny test wheel of repeated text)
SPACE_MARGIN = 256 * 1024 * 1024  # left free after unpacking
KEEP_PACKS = 2  # unpacked packs kept in the cache, most recently used first
STALE_UNPACK_S = 3600.0  # a `.unpack-*` folder this old belongs to a run that died
# zip compression methods Python's zipfile reads (stored, deflate, bzip2, lzma)
READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
DEFLATE64 = 9  # what Windows Explorer's "Send to > Compressed folder" writes for large files
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclass(frozen=True)
class PackInfo:
    """A zip fix pack as its directory describes it (nothing read from its members yet)."""

    path: str
    wheels: Tuple[str, ...]  # file names of the wheels it holds
    unpacked_bytes: int


def inspect_pack(path: str) -> PackInfo:
    """The pack's wheels from its directory; a pack that cannot be unpacked is refused here, saying why."""
    if not os.path.isfile(path):
        raise UsageError("fix.error.pack_missing", path=path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = _wheel_members(path, archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UsageError("fix.error.pack_bad", path=path, detail=str(exc)) from exc
    names = tuple(sorted({_plain_name(m) for m in members} - {""}))
    return PackInfo(os.path.abspath(path), names, sum(m.file_size for m in members))


def _plain_name(member: zipfile.ZipInfo) -> str:
    name = os.path.basename(member.filename.replace("\\", "/"))
    return "" if name.startswith(".") else name


def _wheel_members(path: str, archive: zipfile.ZipFile) -> List[zipfile.ZipInfo]:
    members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".whl")]
    if not members:
        raise UsageError("fix.error.pack_empty", path=path)
    for member in members:
        if member.flag_bits & 0x1:
            raise UsageError("fix.error.pack_encrypted", path=path, member=member.filename)
        if member.compress_type == DEFLATE64:
            raise UsageError("fix.error.pack_deflate64", path=path, member=member.filename)
        if member.compress_type not in READABLE_METHODS:
            raise UsageError("fix.error.pack_method", path=path, member=member.filename,
                             method=str(member.compress_type))
        if member.file_size > SMALL_MEMBER and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise UsageError("fix.error.pack_bad", path=path,
                             detail=f"{member.filename} inflates {member.file_size // max(member.compress_size, 1)}"
                                    f" times: not a wheel as built")
    if sum(m.file_size for m in members) > MAX_PACK_BYTES:
        raise UsageError("fix.error.pack_bad", path=path, detail="too large")
    return members


def wheel_folder(path: str) -> str:
    """The folder of wheels `upgrade --wheelhouse` takes, from a folder or a .zip fix pack (unpacked now:
    call it once B is chosen)."""
    if os.path.isdir(path):
        return os.path.abspath(path)
    inspect_pack(path)  # the same refusals as at the start, in case the file changed since
    try:
        with zipfile.ZipFile(path) as archive:
            return _unpack(path, archive)
    except zipfile.BadZipFile as exc:
        raise UsageError("fix.error.pack_bad", path=path, detail=str(exc)) from exc


def unpacked_folder(path: str) -> Optional[str]:
    """The folder a pack was already unpacked into (a previous run), or None; reads the pack to hash it."""
    if os.path.isdir(path):
        return os.path.abspath(path)
    target = _target(path)
    return target if os.path.isdir(target) else None


def _digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def _packs_dir() -> str:
    return os.path.join(str(cache_dir()), "fixpacks")


def _target(path: str) -> str:
    try:
        return os.path.join(_packs_dir(), _digest(path))
    except OSError as exc:
        raise UsageError("fix.error.pack_bad", path=path, detail=exc.strerror or str(exc)) from exc


def _unpack(path: str, archive: zipfile.ZipFile) -> str:
    members = _wheel_members(path, archive)
    target = _target(path)
    if os.path.isdir(target):
        if trusted_tree(target):
            _touch(target)
            return target
        # Not this user's alone (planted, or writable by others): never installed from; unpacked afresh.
        target = tempfile.mkdtemp(prefix=".own-", dir=os.path.dirname(target)) + os.sep + "pack"
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    prune(keep=KEEP_PACKS - 1)  # room for this one: the cache never holds more than KEEP_PACKS
    needed = sum(m.file_size for m in members)
    free = shutil.disk_usage(folder).free
    if free < needed + SPACE_MARGIN:
        raise UsageError("fix.error.pack_no_space", path=path, folder=folder, needed_mb=(needed + SPACE_MARGIN) >> 20,
                         free_mb=free >> 20)
    work = tempfile.mkdtemp(prefix=".unpack-", dir=folder)
    try:
        seen = set()
        for member in members:
            name = _plain_name(member)
            if not name or name in seen:
                continue  # a duplicate or hidden name inside the pack: the first one wins
            seen.add(name)
            with archive.open(member) as source, open(os.path.join(work, name), "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        os.replace(work, target)  # whole or not at all: a half-unpacked pack is never used
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        if exc.errno in _NO_SPACE:
            raise UsageError("fix.error.pack_no_space", path=path, folder=folder,
                             needed_mb=(needed + SPACE_MARGIN) >> 20,
                             free_mb=shutil.disk_usage(folder).free >> 20) from exc
        raise UsageError("fix.error.pack_write", path=path, folder=folder, detail=exc.strerror or str(exc)) from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def _touch(folder: str) -> None:
    try:
        os.utime(folder)  # most recently used: pruned last
    except OSError:
        pass


def prune(keep: int = KEEP_PACKS) -> List[str]:
    """Remove all but the `keep` most recently used unpacked packs, and unpack folders of runs that
    died; returns what was removed. Best effort: a folder in use elsewhere may stay."""
    folder = _packs_dir()
    try:
        entries = [os.path.join(folder, name) for name in os.listdir(folder)]
    except OSError:
        return []
    removed = []
    now = time.time()
    packs = []
    for entry in entries:
        try:
            st = os.lstat(entry)
        except OSError:
            continue
        if os.path.basename(entry).startswith(".unpack-"):
            if now - st.st_mtime > STALE_UNPACK_S:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            continue
        packs.append((st.st_mtime, entry))
    for _mtime, entry in sorted(packs, reverse=True)[max(keep, 0):]:
        if os.path.islink(entry) or not os.path.isdir(entry):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed
