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
A file is linked only where pip can replace it unaided: a file or folder we cannot write is copied,
because pip's error handler would chmod the shared inode (see `may_link`).
Folders are always created anew, so new files (new .pyc, new packages) never land in the original.
Symbolic links are judged by where they lead (`plan_link`): inside the runtime they stay links that
name the stage's own files; out of it, the stage holds a real copy, so pip never writes through them.
`tree_stamp` lets the caller prove afterwards that the original was not touched.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from envdoctor.process import faults
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


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _in_site(rel: str) -> bool:
    return any(p.lower() in ("site-packages", "dist-packages") for p in rel.replace("\\", "/").split("/")[:-1])


def may_link(path: str, folder_writable: bool) -> bool:
    """A hard link is safe only where pip can replace the file without help: pip unlinks a file it
    replaces, and when that fails its error handler makes the file writable (chmod) and tries again;
    through a shared inode that chmod reaches the original (issue 28). A file we cannot write, or one
    in a folder we cannot write, is copied instead (root can always write: this is about other users,
    and on Windows about the read-only attribute, which os.access reports)."""
    return folder_writable and writable(path)


def writable(path: str, mode: int = os.W_OK) -> bool:
    """os.access as this process's effective user (the one that will write), where the OS can ask so."""
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


@dataclass(frozen=True)
class LinkPlan:
    """What the stage makes of one symbolic link in the runtime."""

    action: str  # keep: a link with `text` | copy: the file it names | walk: the folder it names | refuse
    text: str = ""
    source: str = ""  # copy/walk: the resolved path to read


KEEP, WALK, REFUSE = "keep", "walk", "refuse"


def plan_link(link: str, rel: str, root_real: str) -> LinkPlan:
    """A link that stays inside the runtime stays a link, written relative so that in the stage it names
    the stage's own file, never the original's. A link that leads out of the runtime would let pip
    uninstall and install through it into the outside folder (issue 25), so the stage holds a real copy
    of what it names (the swap then replaces the link, never its target); an interpreter link outside
    site-packages (a venv's bin/python) is kept, pip never writes there. What cannot be copied safely
    (a dangling link or a folder holding the runtime itself) is refused."""
    try:
        text = os.readlink(link)
        resolved = os.path.realpath(link)
    except OSError:
        return LinkPlan(REFUSE, source=link)
    if _inside(resolved, root_real):
        rel_dir = os.path.dirname(rel)
        if not os.path.isabs(text) and not os.path.normpath(os.path.join(rel_dir, text)).startswith(".."):
            return LinkPlan(KEEP, text)
        return LinkPlan(KEEP, os.path.relpath(os.path.relpath(resolved, root_real), rel_dir or "."))
    if os.path.isdir(resolved):
        if _inside(root_real, resolved):
            return LinkPlan(REFUSE, source=resolved)  # copying it would copy the runtime into itself
        return LinkPlan(WALK, source=resolved)
    if os.path.isfile(resolved):
        return LinkPlan(COPY, source=resolved) if _in_site(rel) else LinkPlan(KEEP, text)
    return LinkPlan(REFUSE, source=resolved) if _in_site(rel) else LinkPlan(KEEP, text)


def _refuse(link: str, plan: LinkPlan) -> UpgradeError:
    return UpgradeError("upgrade.error.link_outside", path=link, target=plan.source)


def estimate_copy_bytes(src: str) -> Tuple[int, int, int]:
    """(files, bytes of all files, bytes of files that must be copied) — for the free-space check. The
    same rules as stage_tree: a link out of the runtime counts what it names, as copies; a link the
    stage would refuse is refused here, before any work."""
    counts = [0, 0, 0]
    _estimate(src, "", os.path.realpath(src), False, counts, set())
    return counts[0], counts[1], counts[2]


def _estimate(folder: str, rel_dir: str, root_real: str, outside: bool, counts: list, seen: set) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    folder_writable = writable(folder)
    top_site = _is_site_dir(folder)
    for entry in entries:
        rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
        try:
            if entry.is_symlink():
                plan = plan_link(entry.path, rel, root_real)
                if plan.action == REFUSE:
                    raise _refuse(entry.path, plan)
                if plan.action == WALK and plan.source not in seen:
                    _estimate(plan.source, rel, root_real, True, counts, seen | {plan.source})
                elif plan.action == COPY:
                    size = os.stat(plan.source).st_size
                    counts[0] += 1
                    counts[1] += size
                    counts[2] += size
                continue
            if entry.is_dir(follow_symlinks=False):
                _estimate(entry.path, rel, root_real, outside, counts, seen)
                continue
            size = entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        counts[0] += 1
        counts[1] += size
        if outside or must_copy(rel, top_site) or not may_link(entry.path, folder_writable):
            counts[2] += size


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


class _Stager:
    """One stage_tree run: walks the runtime (and what its outward links name) and fills the stage."""

    def __init__(self, src: str, dst: str, method: str, progress: Optional[Callable[[int, int], None]],
                 total_files: int) -> None:
        self.root_real = os.path.realpath(src)
        self.try_reflink = method in (AUTO, REFLINK)
        self.try_link = method in (AUTO, HARDLINK)
        self.used: Dict[str, int] = {REFLINK: 0, HARDLINK: 0, COPY: 0}
        self.files = self.linked = self.copied = self.bytes_total = self.bytes_written = 0
        self.dir_stats: List[Tuple[str, str]] = []
        self.progress, self.total_files = progress, total_files

    def folder(self, src_dir: str, out_dir: str, rel_dir: str, outside: bool, seen: frozenset) -> None:
        os.mkdir(out_dir)
        self.dir_stats.append((src_dir, out_dir))
        folder_writable = writable(src_dir)
        top_site = _is_site_dir(src_dir)
        for entry in sorted(os.scandir(src_dir), key=lambda e: e.name):
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            target = os.path.join(out_dir, entry.name)
            if entry.is_symlink():
                plan = plan_link(entry.path, rel, self.root_real)
                if plan.action == KEEP:
                    os.symlink(plan.text, target)
                elif plan.action == WALK and plan.source not in seen:
                    self.folder(plan.source, target, rel, True, seen | {plan.source})
                elif plan.action == COPY:
                    self.file(plan.source, target, rel, os.stat(plan.source), False)
                else:
                    raise _refuse(entry.path, plan)
            elif entry.is_dir(follow_symlinks=False):
                self.folder(entry.path, target, rel, outside, seen)
            else:
                st = entry.stat(follow_symlinks=False)
                linkable = not outside and not must_copy(rel, top_site) and may_link(entry.path, folder_writable)
                self.file(entry.path, target, rel, st, linkable)

    def file(self, path: str, target: str, rel: str, st: os.stat_result, linkable: bool) -> None:
        self.files += 1
        self.bytes_total += st.st_size
        done = False
        if self.try_reflink:
            done = _reflink(path, target)
            if done:
                self.used[REFLINK] += 1
                self.copied += 1
            elif self.used[REFLINK] == 0:
                self.try_reflink = False  # the filesystem cannot clone: stop asking
        if not done and self.try_link and linkable:
            try:
                os.link(path, target)
                done = True
                self.used[HARDLINK] += 1
                self.linked += 1
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                    raise
                self.try_link = exc.errno == errno.EMLINK  # too many links to this file: copy just it
        if not done:
            shutil.copy2(path, target)
            self.used[COPY] += 1
            self.copied += 1
            self.bytes_written += st.st_size
        faults.hit("stage-file")
        if self.progress is not None and (self.files % 200 == 0 or self.files == self.total_files):
            self.progress(self.files, self.total_files)


def stage_tree(src: str, dst: str, method: str = AUTO,
               progress: Optional[Callable[[int, int], None]] = None, total_files: int = 0) -> StageStats:
    """Build dst from src. `method`: auto (reflink, else hardlink, else copy) or one of them forced."""
    started = time.monotonic()
    if os.path.lexists(dst):
        raise UpgradeError("upgrade.error.stage_exists", path=dst)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    run = _Stager(src, dst, method, progress, total_files)
    run.folder(src, dst, "", False, frozenset({run.root_real}))
    for original, copy in reversed(run.dir_stats):
        shutil.copystat(original, copy)
    used = run.used
    best = REFLINK if used[REFLINK] else HARDLINK if used[HARDLINK] else COPY
    return StageStats(best, run.files, run.linked, run.copied, run.bytes_total, run.bytes_written,
                      time.monotonic() - started)


def tree_stamp(root: str) -> Dict[str, Tuple[int, ...]]:
    """{relative path: (size, mtime_ns, inode, mode)} of every file and folder: cheap proof that a tree
    was not touched. The mode is in it because a chmod through a shared inode changes nothing else
    (issue 28: pip's error handler made a linked file 0o200 and "not changed" was said)."""
    stamp: Dict[str, Tuple[int, ...]] = {
        rel: (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode) for rel, _top_site, st in _walk_files(root)}
    for dirpath, _dirnames, _filenames in os.walk(root):
        try:
            st = os.stat(dirpath)  # (os.walk lists no linked folder: this follows only a linked root)
        except OSError:
            continue
        stamp[os.path.join(os.path.relpath(dirpath, root), "")] = (st.st_mtime_ns, st.st_ino, st.st_mode)
    return stamp


def stamp_digest(stamp: Dict[str, Tuple[int, ...]]) -> str:
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


def movable_problem(root: str) -> Optional[UpgradeError]:
    """Why the swap could not move `root` as a whole, or None. A rename needs write permission on the
    folder that holds it and (POSIX, for a folder moving to another parent) on the folder itself; found
    here, before any work, instead of at the swap after the whole install (issue 28)."""
    parent = os.path.dirname(os.path.abspath(root))
    blocked = [p for p in (parent, root) if not (os.path.islink(p) and p == root)
               and not writable(p, os.W_OK | os.X_OK)]
    if blocked:
        return UpgradeError("upgrade.error.runtime_not_movable", path=root, parent=parent, blocked=blocked[0])
    return None
