"""Making the candidate runtime: a tree next to the original that shares what is safe to share.

Three ways to put a file in the stage, cheapest first:
  reflink   a copy-on-write clone (Linux FICLONE: btrfs, XFS, bcachefs...): always safe to write.
  hardlink  the same inode as the original. Safe only for files that nothing rewrites in place:
            pip replaces a package's files by unlinking them first and writing new ones (its wheel
            installer removes an existing destination before writing), and Python writes .pyc files
            to a temp name and renames it over, so a rename breaks the link instead of writing
            through it.
  copy      everything else, and every file that may be rewritten in place: all *.dist-info /
            *.egg-info folders (pip rewrites RECORD, INSTALLER, REQUESTED), top-level files of
            site-packages (*.pth, single-module packages), anything under bin/ or Scripts/ (script
            rewrites, our own shebang fix), and the runtime's top-level files (pyvenv.cfg,
            python.exe, python3X._pth).
Folders are always created anew, so new files (new .pyc, new packages) never land in the original.
`tree_stamp` lets the caller prove afterwards that the original was not touched.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional, Tuple

from envdoctor import faults
from envdoctor.upgrade.errors import UpgradeError

REFLINK = "reflink"
HARDLINK = "hardlink"
COPY = "copy"
AUTO = "auto"

_FICLONE = 0x40049409
_SCRIPT_DIRS = ("bin", "scripts")


@dataclass(frozen=True)
class StageStats:
    method: str  # the cheapest method that worked: reflink | hardlink | copy
    files: int
    linked: int
    copied: int
    bytes_total: int
    bytes_written: int  # bytes that took new disk space (copies)
    seconds: float


def must_copy(rel_path: str, is_top_site_file: bool) -> bool:
    """True for files an install may rewrite in place (see the module docstring)."""
    parts = rel_path.replace("\\", "/").split("/")
    if len(parts) == 1:
        return True
    if parts[0].lower() in _SCRIPT_DIRS:
        return True
    if any(p.endswith((".dist-info", ".egg-info")) for p in parts[:-1]):
        return True
    if parts[-1].endswith((".pth", ".egg-link", ".cfg")):
        return True
    return is_top_site_file


def _is_site_dir(path: str) -> bool:
    return os.path.basename(path).lower() in ("site-packages", "dist-packages")


def _walk_files(root: str) -> Iterator[Tuple[str, bool, os.stat_result]]:
    """(path relative to root, whether its folder is a site-packages, lstat) of every file under root;
    files that vanish while walking are skipped."""
    for dirpath, _dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        top_site = _is_site_dir(dirpath)
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            yield (name if rel_dir == "." else os.path.join(rel_dir, name)), top_site, st


def estimate_copy_bytes(src: str) -> Tuple[int, int, int]:
    """(files, bytes of all files, bytes of files that must be copied) — for the free-space check."""
    files = total = copy = 0
    for rel, top_site, st in _walk_files(src):
        if stat.S_ISLNK(st.st_mode):
            continue
        files += 1
        total += st.st_size
        if must_copy(rel, top_site):
            copy += st.st_size
    return files, total, copy


def _reflink(src: str, dst: str) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import fcntl  # Linux only (FICLONE)

    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
    except OSError:
        try:
            os.unlink(dst)
        except OSError:
            pass
        return False
    shutil.copystat(src, dst)
    return True


def stage_tree(src: str, dst: str, method: str = AUTO,
               progress: Optional[Callable[[int, int], None]] = None, total_files: int = 0) -> StageStats:
    """Build dst from src. `method`: auto (reflink, else hardlink, else copy) or one of them forced."""
    started = time.monotonic()
    if os.path.lexists(dst):
        raise UpgradeError("upgrade.error.stage_exists", path=dst)
    try_reflink = method in (AUTO, REFLINK)
    try_link = method in (AUTO, HARDLINK)
    used: Dict[str, int] = {REFLINK: 0, HARDLINK: 0, COPY: 0}
    files = linked = copied = bytes_total = bytes_written = 0
    dir_stats = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        out_dir = dst if rel_dir == "." else os.path.join(dst, rel_dir)
        os.makedirs(out_dir, exist_ok=rel_dir != ".")
        dir_stats.append((dirpath, out_dir))
        top_site = _is_site_dir(dirpath)
        # Symlinked folders are recreated as links, not walked (os.walk lists them in dirnames).
        for name in list(dirnames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(out_dir, name))
                dirnames.remove(name)
        for name in filenames:
            path = os.path.join(dirpath, name)
            target = os.path.join(out_dir, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(path), target)
                continue
            files += 1
            bytes_total += st.st_size
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            done = False
            if try_reflink:
                done = _reflink(path, target)
                if done:
                    used[REFLINK] += 1
                    copied += 1
                elif used[REFLINK] == 0:
                    try_reflink = False  # the filesystem cannot clone: stop asking
            if not done and try_link and not must_copy(rel, top_site):
                try:
                    os.link(path, target)
                    done = True
                    used[HARDLINK] += 1
                    linked += 1
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                        raise
                    try_link = exc.errno == errno.EMLINK  # too many links to this file: copy just it
            if not done:
                shutil.copy2(path, target)
                used[COPY] += 1
                copied += 1
                bytes_written += st.st_size
            faults.hit("stage-file")
            if progress is not None and (files % 200 == 0 or files == total_files):
                progress(files, total_files)
    for original, copy in reversed(dir_stats):
        shutil.copystat(original, copy)
    best = REFLINK if used[REFLINK] else HARDLINK if used[HARDLINK] else COPY
    return StageStats(best, files, linked, copied, bytes_total, bytes_written, time.monotonic() - started)


def tree_stamp(root: str) -> Dict[str, Tuple[int, int, int]]:
    """{relative path: (size, mtime_ns, inode)} of every file: cheap proof that a tree was not touched."""
    return {rel: (st.st_size, st.st_mtime_ns, st.st_ino) for rel, _top_site, st in _walk_files(root)}


def stamp_digest(stamp: Dict[str, Tuple[int, int, int]]) -> str:
    """A short fingerprint of a tree_stamp, small enough for a journal record."""
    return hashlib.sha256(json.dumps(sorted(stamp.items())).encode()).hexdigest()


def fix_script_paths(stage: str, final: str) -> int:
    """Scripts pip wrote into the stage name the stage's interpreter in their first line; after the
    swap they must name the final path. Only stage copies are edited (bin/ is never linked)."""
    fixed = 0
    old, new = os.fsencode(stage), os.fsencode(final)
    for folder in ("bin", "Scripts"):
        base = os.path.join(stage, folder)
        if not os.path.isdir(base):
            continue
        for name in os.listdir(base):
            path = os.path.join(base, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as handle:
                head = handle.read(2)
                if head != b"#!":
                    continue
                data = head + handle.read()
            if old in data:
                tmp = path + ".envdoctor-tmp"
                with open(tmp, "wb") as handle:
                    handle.write(data.replace(old, new))
                shutil.copymode(path, tmp)
                os.replace(tmp, path)
                fixed += 1
    return fixed
