"""Durable filesystem primitives: fsync of files and folders, renames, an atomic folder exchange.

A rename is atomic on one filesystem, but only durable once the parent folder is fsynced; the journal
relies on both. Linux can exchange two folders in one step (renameat2 RENAME_EXCHANGE), which removes
the instant where no runtime/ exists; elsewhere two renames are used and recovery covers the gap.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
import sys
import uuid
from typing import Optional, Tuple

from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.layout import inside

Identity = Tuple[int, int]  # (st_dev, st_ino): survives renames, so it names a tree wherever it is

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def identity(path: str) -> Optional[Identity]:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def fsync_dir(path: str) -> None:
    """Make a folder's entries (renames, new files) durable. Windows has no folder fsync; NTFS
    journals metadata itself, so there it is a no-op."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flush_to_disk() -> None:
    """Before a staged tree is swapped in, its contents (copies, pip's new files) must be on disk,
    not only in the page cache: after a power loss the new runtime must be whole. POSIX sync(2)
    flushes every filesystem in one call. Windows has no equivalent; NTFS commits metadata through
    its journal and the swap happens seconds after pip closed its files."""
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()


def rename_durable(src: str, dst: str) -> None:
    """Rename (never over an existing path) and make it durable in both parent folders."""
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "destination exists", dst)
    os.rename(src, dst)
    fsync_dir(os.path.dirname(dst))
    if os.path.dirname(src) != os.path.dirname(dst):
        fsync_dir(os.path.dirname(src))


@functools.cache
def _renameat2():
    """libc's renameat2, looked up on first use: find_library may run `ldconfig`, and every command
    imports this module (through the journal) for the interrupted-transaction notice."""
    if not sys.platform.startswith("linux"):
        return None
    # Linux only, and on first use (see above).
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def can_exchange(a: str, b: str) -> bool:
    """True when this OS and filesystem can swap a and b atomically (tried on throw-away folders)."""
    if _renameat2() is None or os.environ.get("ENVDOCTOR_NO_EXCHANGE"):
        return False  # ENVDOCTOR_NO_EXCHANGE: test hook, runs the two-rename path used on Windows
    parent = os.path.dirname(os.path.abspath(a))
    probe_a = os.path.join(parent, f".xchg-{uuid.uuid4().hex}")
    probe_b = probe_a + "-b"
    try:
        os.mkdir(probe_a)
        os.mkdir(probe_b)
        _exchange(probe_a, probe_b)
        return True
    except OSError:
        return False
    finally:
        for path in (probe_a, probe_b):
            try:
                os.rmdir(path)
            except OSError:
                pass


def _exchange(a: str, b: str) -> None:
    import ctypes  # Linux only: already loaded by _renameat2, which is None elsewhere

    func = _renameat2()
    if func is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available", a)
    rc = func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), a)


def exchange_durable(a: str, b: str) -> None:
    _exchange(a, b)
    fsync_dir(os.path.dirname(a))
    if os.path.dirname(a) != os.path.dirname(b):
        fsync_dir(os.path.dirname(b))


def remove_tree(path: str, trash_dir: str, progress=None) -> None:
    """Delete a tree without ever leaving a half-deleted tree at its own path: rename it into the
    trash first (atomic), then delete it there. Leftovers in the trash are removed by `empty_trash`.
    `progress(done_bytes, total_bytes)` is told as files go (deleting 20,000 files takes a minute).

    Only what lies inside the folder that holds the trash (the tool's own state folder) is ever
    removed: a path from a tampered journal that points anywhere else is refused, not deleted."""
    state_dir = os.path.dirname(os.path.abspath(trash_dir))
    if not inside(path, state_dir) or os.path.realpath(os.path.abspath(path)) == os.path.realpath(state_dir):
        raise UpgradeError("safety.outside", path=path, folder=state_dir)
    if not os.path.lexists(path):
        return
    os.makedirs(trash_dir, exist_ok=True)
    target = os.path.join(trash_dir, uuid.uuid4().hex)
    rename_durable(path, target)
    if progress is None or os.path.islink(target) or not os.path.isdir(target):
        _delete(target)  # a symlink goes itself: os.walk would list (and unlink) what it points to
    else:
        delete_with_progress(target, progress)


def _delete(path: str) -> None:
    """rmtree, but a symlink is removed itself (never what it points to)."""
    if os.path.islink(path) or os.path.isfile(path):
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    _rmtree(path)


def _rmtree(path: str) -> None:
    """rmtree that also clears a tree with read-only folders (a stage of a runtime unpacked read-only
    keeps its folders' modes): where the first pass left something, give the folders (never the files:
    a staged file may share its inode with the original runtime) owner write and search, and retry."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path) or os.path.islink(path) or sys.platform == "win32":
        return
    _own_folder(path)
    for dirpath, dirnames, _names in os.walk(path):
        for name in dirnames:
            _own_folder(os.path.join(dirpath, name))
    shutil.rmtree(path, ignore_errors=True)


def _own_folder(path: str) -> None:
    try:
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    except OSError:
        pass


def delete_with_progress(root: str, progress) -> None:
    files = []
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            try:
                size = os.lstat(full).st_size
            except OSError:
                size = 0
            files.append((full, size))
            total += size
    done = 0
    progress(0, total)
    for index, (full, size) in enumerate(files):
        try:
            os.unlink(full)
        except OSError:
            pass
        done += size
        if index % 200 == 0 or index == len(files) - 1:
            progress(done, total)
    _rmtree(root)  # the (now empty) folders, and what a read-only folder kept
    progress(total, total)


def empty_trash(trash_dir: str) -> None:
    if os.path.isdir(trash_dir) and not os.path.islink(trash_dir):
        for name in os.listdir(trash_dir):
            _delete(os.path.join(trash_dir, name))


def same_filesystem(a: str, b: str) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False
