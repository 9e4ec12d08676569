"""Writing a file so that a crash leaves either the old content or the new, never a mix.

The one atomic writer of envdoctor: configure's files and backups, the upgrade's journal metadata, fix's
launchers and records, bundle state files, and (through safeio.write_output, which first refuses links,
FIFOs and devices as targets) the files a user names with `-o`.

Permissions are those a plain `open(path, "w")` would give: an existing target keeps its mode, a new
file gets 0o666 less the umask (the kernel applies the umask when the temporary is created, so the
process-wide umask is never touched). A caller that needs other bits says so (`mode=0o600` for
backups, the original mode when a file is put back); `mode` is then set exactly, umask or not.
"""

from __future__ import annotations

import os
import secrets
import stat
from typing import Callable, Optional, Tuple

from envdoctor.process import faults

TMP_PREFIX = ".envdoctor-"  # the temporaries' names, which safeio.remove_stale_temporaries clears after a kill
TMP_SUFFIX = ".tmp"

_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0))


def atomic_write(path: str, data: bytes, mode: Optional[int] = None, *, durable: bool = True,
                 fault: str = "atomic-written", guard: Optional[Callable[[str], None]] = None) -> None:
    """A temporary file in the same folder, flushed to disk, renamed over path, the folder flushed.

    `mode` None: the existing target's permission bits, else what a new file gets (0o666 & ~umask).
    `durable` off skips the fsyncs (a small state file whose loss costs nothing). `fault` names the
    kill -9 test point reached when the temporary is whole. `guard(path)` runs again just before the
    rename, so a target that became unacceptable meanwhile (a FIFO, a link) is not replaced."""
    folder = os.path.dirname(os.path.abspath(path))
    keep = mode if mode is not None else _existing_mode(path)
    handle, temporary = _create_temporary(folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        if keep is not None:
            os.chmod(temporary, keep)
        faults.hit(fault)  # kill -9 tests: the temporary is whole, the target not replaced yet
        if guard is not None:
            guard(path)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(folder)


def _existing_mode(path: str) -> Optional[int]:
    """The permission bits of the regular file at `path` (not through a link); None when there is none."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def _create_temporary(folder: str) -> Tuple[int, str]:
    """(descriptor, path) of a new `.envdoctor-*.tmp` in `folder`, created 0o666 so the umask applies
    (tempfile.mkstemp would make it 0o600, and that mode would reach the target)."""
    for _attempt in range(100):
        temporary = os.path.join(folder, f"{TMP_PREFIX}{secrets.token_hex(6)}{TMP_SUFFIX}")
        try:
            return os.open(temporary, _CREATE_FLAGS, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def _fsync_dir(folder: str) -> None:
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
