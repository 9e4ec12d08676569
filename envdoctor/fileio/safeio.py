"""Reading untrusted paths with a size cap, and writing output files only where a file belongs.

Every file envdoctor reads may be hostile or simply wrong: a device (`/dev/zero` never ends), a FIFO
(an open blocks until a writer comes), a symlink loop, a folder. `os.path.getsize` says 0 for the
first two, so a size guard built on it guards nothing. Here a file is opened without blocking,
checked to be a regular file on the open descriptor (no race between check and read), and read
with a cap that holds whatever the file claims.

Output goes only to a regular file or a new name: never through a symlink, never over a device or
a FIFO, and atomically (a temporary file in the same folder, renamed over the target).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from typing import Any, List, Optional, Tuple

from envdoctor.errors import UsageError
from envdoctor.fileio.atomicfile import TMP_PREFIX, TMP_SUFFIX, atomic_write


class UnsafePathError(OSError):
    """A path that is not what the caller needs; `reason` is one of the REASONS, for messages."""

    def __init__(self, reason: str, path: str, detail: str = "", limit: int = 0) -> None:
        super().__init__(errno.EINVAL, detail or reason, path)
        self.reason = reason
        self.path = path
        self.limit = limit

    def as_error(self, error_type: Any = None) -> Any:
        """The user-facing error (exit 3) that says what is really at the path, in both languages."""
        limit = f"{self.limit >> 20} MiB" if self.limit >= 1 << 20 else f"{self.limit} bytes"
        return (error_type or UsageError)(f"safety.path.{self.reason}", path=self.path, detail=self.strerror,
                                          limit=limit)


REASONS = ("missing", "loop", "directory", "device", "fifo", "socket", "not_regular", "too_large",
           "symlink", "unreadable", "not_directory")


def folder_problem(path: str) -> Optional[str]:
    """None when `path` is a folder; else the `safety.path.<reason>` that says what it is instead ("missing"
    left to the caller's own message). A file named where a folder is wanted is "not_directory", not
    "does not exist"."""
    kind = path_kind(path)
    if kind == "directory":
        return None
    return kind if kind in ("missing", "loop", "device", "fifo", "socket", "unreadable") else "not_directory"


def path_kind(path: str) -> str:
    """What is at `path`, following symlinks: file, directory, device, fifo, socket, loop, missing,
    unreadable (a folder on the way cannot be searched), other."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "loop"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "unreadable"
        if exc.errno == errno.ENOTDIR:
            return "not_directory"  # a file stands where a folder of the path should be
        return "missing"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def open_regular(path: str) -> int:
    """A descriptor of the regular file `path`, opened without blocking on a FIFO; the caller closes it."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        kind = path_kind(path)
        if kind in ("loop", "missing", "directory", "unreadable", "not_directory"):
            raise UnsafePathError(kind, path, exc.strerror or str(exc)) from exc
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("directory" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode)
                    else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "socket" if stat.S_ISSOCK(mode) else "not_regular")
            raise UnsafePathError(kind, path)
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # POSIX only: a regular file reads fine blocking (Windows has no O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_capped(path: str, cap: int) -> bytes:
    """The whole content of the regular file `path`, at most `cap` bytes, else UnsafePathError
    ("too_large"). Devices, FIFOs, sockets and folders are refused without blocking."""
    fd = open_regular(path)
    try:
        data = _read_at_most(fd, cap + 1)  # one byte over the cap says the file is larger
    finally:
        os.close(fd)
    if len(data) > cap:
        raise UnsafePathError("too_large", path, f"more than {cap} bytes", limit=cap)
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from `fd`'s position, read in 1 MiB pieces (a short read is not the end)."""
    chunks = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_head(path: str, limit: int) -> bytes:
    """At most the first `limit` bytes of the regular file `path` (refuses what read_capped refuses)."""
    fd = open_regular(path)
    try:
        return _read_at_most(fd, limit)
    finally:
        os.close(fd)


def read_tail(path: str, limit: int) -> Tuple[int, int, bytes]:
    """(size, start, data): the last `limit` bytes of a regular file (refuses what read_capped refuses)."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - limit)
        os.lseek(fd, start, os.SEEK_SET)
        return size, start, _read_at_most(fd, limit)
    finally:
        os.close(fd)


def check_output_target(path: str) -> None:
    """Refuse an output path that is not a regular file or a free name: a symlink (which would be
    replaced, or followed somewhere unintended), a device, a FIFO, a socket, a folder."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnsafePathError(path_kind(path), path, exc.strerror or str(exc)) from exc
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        raise UnsafePathError("symlink", path)
    if stat.S_ISREG(mode):
        return
    kind = ("directory" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode)
            else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "socket" if stat.S_ISSOCK(mode) else "not_regular")
    raise UnsafePathError(kind, path)


def write_output(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Write `data` to `path` atomically (atomicfile.atomic_write: an existing file keeps its mode, a new
    one gets 0o666 & ~umask), only as a regular file (see check_output_target). The target is checked
    again just before the rename, so a FIFO or symlink put there meanwhile is not replaced either."""
    check_output_target(path)
    atomic_write(path, data, mode, fault="output-written", guard=check_output_target)


def remove_stale_temporaries(folder: str, min_age_s: float = 0.0) -> list:
    """Delete the `.envdoctor-*.tmp` files that a killed run left in `folder` (not recursive): the
    name is ours alone, and a live write removes its own temporary within the same call. With
    `min_age_s`, only temporaries untouched for that long (another run may be writing right now)."""
    removed: List[str] = []
    now = time.time()
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for name in entries:
        if not (name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)):
            continue
        path = os.path.join(folder, name)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= min_age_s:
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
    return removed
