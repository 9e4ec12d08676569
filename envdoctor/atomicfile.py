"""Writing a file so that a crash leaves either the old content or the new, never a mix."""

from __future__ import annotations

import os
import tempfile
from typing import Optional

from envdoctor import faults


def atomic_write(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """A temporary file in the same folder, flushed to disk, renamed over path, the folder flushed."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=".envdoctor-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        faults.hit("atomic-written")  # kill -9 tests: the temporary is whole, the target not replaced yet
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


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
