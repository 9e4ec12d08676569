"""What a runtime held when a transaction set it aside, so that `rollback` can tell a kept runtime
is still whole before it swaps it in.

Recorded once, when the tree is replaced (the upgrade's backup, the rollback's rejected runtime):
every file's relative path and size, every symlink's target, and a SHA-256 of the files that decide
whether the runtime starts and which torch it has (interpreters, `version.py`, dist-info METADATA
and RECORD). Verifying is a walk with `stat` plus those few hashes: seconds for a 5 GB runtime,
and it catches a deleted `lib/`, a truncated library, a swapped torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import Dict, Optional

from envdoctor.fileio.atomicfile import atomic_write
from envdoctor.fileio.safeio import UnsafePathError, read_capped

MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
_KEY_NAMES = ("version.py", "METADATA", "RECORD", "pyvenv.cfg")


def _is_key_file(rel: str) -> bool:
    parts = rel.split("/")
    if parts[-1] in _KEY_NAMES:
        return True
    # The interpreter and its core library: python.exe, python311.dll at the top (Windows bundles),
    # bin/python3.x (Linux).
    return parts[-1].lower().startswith("python") and (len(parts) == 1 or parts[:-1] in (["bin"], ["Scripts"]))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build(tree: str) -> Dict[str, object]:
    files: Dict[str, int] = {}
    links: Dict[str, str] = {}
    hashes: Dict[str, str] = {}
    for current, dirs, names in os.walk(tree):
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if os.path.islink(os.path.join(current, d))]:
            path = os.path.join(current, name)
            rel = os.path.relpath(path, tree).replace(os.sep, "/")
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    links[rel] = os.readlink(path)
                except OSError:
                    continue
            elif stat.S_ISREG(st.st_mode):
                files[rel] = st.st_size
                if _is_key_file(rel):
                    try:
                        hashes[rel] = _sha256(path)
                    except OSError:
                        continue
    return {"version": MANIFEST_VERSION, "files": files, "links": links, "sha256": hashes}


def record(tree: str, manifest_path: str) -> None:
    atomic_write(manifest_path, json.dumps(build(tree), sort_keys=True).encode("utf-8"))


def load(manifest_path: str) -> Optional[dict]:
    """The manifest, None when none was recorded (a tree kept by an older envdoctor). A manifest that
    is there but unreadable or malformed is a problem of its own (ValueError)."""
    try:
        data = read_capped(manifest_path, MAX_MANIFEST_BYTES)
    except UnsafePathError as exc:
        if exc.reason == "missing":
            return None
        raise ValueError(f"manifest is a {exc.reason}") from exc
    except OSError as exc:
        raise ValueError(f"manifest unreadable: {exc.strerror or exc}") from exc
    value = json.loads(data.decode("utf-8"))
    if (not isinstance(value, dict) or value.get("version") != MANIFEST_VERSION
            or not isinstance(value.get("files"), dict) or not isinstance(value.get("links", {}), dict)
            or not isinstance(value.get("sha256", {}), dict)):
        raise ValueError("manifest is malformed")
    return value


def verify(tree: str, manifest: dict) -> Optional[str]:
    """The first difference between `tree` and its manifest (a short English phrase naming the
    file), None when every recorded file is there with its size and every key file with its hash.
    Files added since are not a problem (a kept tree only loses files by damage)."""
    files = manifest.get("files") or {}
    if not files:
        return "the manifest lists no files"
    for rel, size in files.items():
        if not isinstance(rel, str) or ".." in rel.split("/") or rel.startswith("/"):
            return f"the manifest names {rel!r}"
        path = os.path.join(tree, *rel.split("/"))
        try:
            st = os.lstat(path)
        except OSError:
            return f"{rel} is missing"
        if not stat.S_ISREG(st.st_mode):
            return f"{rel} is no longer a file"
        if st.st_size != size:
            return f"{rel} changed size ({size} -> {st.st_size} bytes)"
    for rel, target in (manifest.get("links") or {}).items():
        path = os.path.join(tree, *str(rel).split("/"))
        try:
            if os.readlink(path) != target:
                return f"{rel} points elsewhere"
        except OSError:
            return f"{rel} is missing"
    for rel, digest in (manifest.get("sha256") or {}).items():
        path = os.path.join(tree, *str(rel).split("/"))
        try:
            if _sha256(path) != digest:
                return f"{rel} changed content"
        except OSError:
            return f"{rel} is unreadable"
    return None
