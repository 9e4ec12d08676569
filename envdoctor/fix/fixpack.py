"""A "fix pack": a folder or .zip of wheels a support person hands over, so B works offline.

A zip is unpacked once into the user cache (keyed by its content hash), taking only top-level or
nested `*.whl` members with plain names: nothing is written outside that folder, whatever the zip says.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile

from envdoctor.errors import UsageError
from envdoctor.paths import cache_dir, trusted_tree

MAX_PACK_BYTES = 32 * 1024 ** 3  # unpacked; torch CUDA wheels are 1-3 GB each


def wheel_folder(path: str) -> str:
    """The folder of wheels `upgrade --wheelhouse` takes, from a folder or a .zip fix pack."""
    if os.path.isdir(path):
        return os.path.abspath(path)
    if not os.path.isfile(path):
        raise UsageError("fix.error.pack_missing", path=path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _unpack(path, archive)
    except zipfile.BadZipFile as exc:
        raise UsageError("fix.error.pack_bad", path=path, detail=str(exc)) from exc


def _digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def _unpack(path: str, archive: zipfile.ZipFile) -> str:
    members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".whl")]
    if not members:
        raise UsageError("fix.error.pack_empty", path=path)
    if sum(m.file_size for m in members) > MAX_PACK_BYTES:
        raise UsageError("fix.error.pack_bad", path=path, detail="too large")
    target = os.path.join(str(cache_dir()), "fixpacks", _digest(path))
    if os.path.isdir(target):
        if trusted_tree(target):
            return target
        # Not this user's alone (planted, or writable by others): never installed from; unpacked afresh.
        target = tempfile.mkdtemp(prefix=".own-", dir=os.path.dirname(target)) + os.sep + "pack"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".unpack-", dir=os.path.dirname(target))
    try:
        seen = set()
        for member in members:
            name = os.path.basename(member.filename.replace("\\", "/"))
            if not name or name in seen or name.startswith("."):
                continue  # a duplicate or hidden name inside the pack: the first one wins
            seen.add(name)
            with archive.open(member) as source, open(os.path.join(work, name), "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        os.replace(work, target)  # whole or not at all: a half-unpacked pack is never used
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
