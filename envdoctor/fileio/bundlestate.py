"""envdoctor's own folder in a bundle (<root>/.envdoctor) and the one lock every writer takes.

Everything envdoctor keeps in a bundle (configure's backups and manifest, the upgrade journal, logs,
kept runtimes, the lock) lives under <root>/.envdoctor. Anyone who can write the bundle can put a link
there, and a link would carry envdoctor's writes (a journal append, a backup, configure --revert's
deletes) to wherever it points. So:

- `.envdoctor` and every folder below it on the way to a state file must be a real folder, never a
  link (or a Windows junction/reparse point): checked with lstat, and refused with a clear message.
- State files are opened without following a link (O_NOFOLLOW where the system has it; on Windows an
  lstat check just before the open) and must be regular files on the open descriptor (a FIFO in place
  of the lock is refused without blocking, not a crash).

The lock: one per bundle, <root>/.envdoctor/lock, taken by every command that changes the bundle
(configure --yes, configure --revert, fix, upgrade, rollback, recover). It is an OS file lock (fcntl
flock, msvcrt on Windows), released by the OS when its holder dies, so a crashed holder never blocks
the next run. `lock.holder` says who holds it (pid, command, since) for the "busy" message. A `fix`
that holds the lock runs its `configure`/`upgrade` children under it: they find the token their parent
gave them (ENVDOCTOR_LOCK_TOKEN) in the holder file and go on without taking it again.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import stat
import sys
import uuid
from typing import Any, Dict, Iterable, List, Optional

from envdoctor.errors import EnvdoctorError
from envdoctor.fileio.atomicfile import atomic_write

STATE_DIR = ".envdoctor"
LOCK_NAME = "lock"
HOLDER_NAME = "lock.holder"
TOKEN_ENV = "ENVDOCTOR_LOCK_TOKEN"
MAX_HOLDER_BYTES = 64 * 1024
_REPARSE_POINT = 0x400  # FILE_ATTRIBUTE_REPARSE_POINT: a junction or symlink on Windows


class StateError(EnvdoctorError):
    """envdoctor's own folder in the bundle is not what it must be (a link, a FIFO lock), or is busy."""


def state_root(root: str) -> str:
    return os.path.join(root, STATE_DIR)


def is_link(st: os.stat_result) -> bool:
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & _REPARSE_POINT)


def _chain(root: str, path: str) -> Iterable[str]:
    """<root>/.envdoctor, then each folder below it down to `path` itself (path must lie under it)."""
    base = state_root(root)
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    if relative == os.curdir:
        return [base]
    if relative.startswith(os.pardir):
        raise ValueError(f"{path} is not under {base}")
    out = [base]
    for part in relative.split(os.sep):
        out.append(os.path.join(out[-1], part))
    return out


def check_chain(root: str, path: str, error_type: Any = StateError) -> None:
    """Refuse when .envdoctor or a folder below it on the way to `path` (path included) is a link.
    Missing parts are fine: they will be made as real folders."""
    for part in _chain(root, path):
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise error_type("state.unreadable", path=part, detail=exc.strerror or str(exc)) from exc
        if is_link(st):
            raise error_type("state.linked", path=part, target=_readlink(part))


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def ensure_dir(root: str, folder: str, error_type: Any = StateError) -> str:
    """Make `folder` (under <root>/.envdoctor) and the folders on the way as real folders, refusing a link."""
    for part in _chain(root, folder):
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            try:
                os.mkdir(part)
            except FileExistsError:
                pass  # another process made it just now: checked below like any other
            st = os.lstat(part)
        if is_link(st):
            raise error_type("state.linked", path=part, target=_readlink(part))
        if not stat.S_ISDIR(st.st_mode):
            raise error_type("state.not_folder", path=part)
    return folder


def open_state(path: str, flags: int, mode: int = 0o644, error_type: Any = StateError) -> int:
    """A descriptor of the regular state file `path`, never through a link and never blocking on a FIFO."""
    if sys.platform == "win32":  # no O_NOFOLLOW: a link or junction put there is refused by lstat
        try:
            if is_link(os.lstat(path)):
                raise error_type("state.linked", path=path, target=_readlink(path))
        except FileNotFoundError:
            pass
    extra = (getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        fd = os.open(path, flags | extra, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # Linux / FreeBSD: the name is a link
            raise error_type("state.linked", path=path, target=_readlink(path)) from exc
        if exc.errno == errno.EISDIR:
            raise error_type("safety.path.directory", path=path, detail="", limit="") from exc
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("fifo" if stat.S_ISFIFO(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode)
                    else "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "socket" if stat.S_ISSOCK(st.st_mode) else "not_regular")
            raise error_type(f"safety.path.{kind}", path=path, detail="", limit="")
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def append_state(path: str, data: bytes, error_type: Any = StateError, sync: bool = True) -> bool:
    """Append to a state file (created if missing), fsynced unless `sync` is off; True when the file was new."""
    is_new = not os.path.lexists(path)
    fd = open_state(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644, error_type)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return is_new


def read_state(path: str, cap: int, error_type: Any = StateError) -> bytes:
    """A state file's bytes (at most `cap`, else the safety.path.too_large error), never through a link."""
    fd = open_state(path, os.O_RDONLY, 0o644, error_type)
    try:
        chunks: List[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise error_type("safety.path.too_large", path=path, detail="", limit=f"{cap} bytes")
    finally:
        os.close(fd)


def replace_state(path: str, data: bytes) -> None:
    """Write a small state file whole: a temporary in the same folder renamed over the name (a link there
    is replaced, never followed). Not fsynced: the holder note is worthless once its writer is gone."""
    atomic_write(path, data, durable=False, fault="state-written")


# -- the bundle lock -------------------------------------------------------------------------------

_HELD: Dict[str, int] = {}  # roots this process holds the lock of -> nesting depth


def lock_path(root: str) -> str:
    return os.path.join(state_root(root), LOCK_NAME)


def holder_path(root: str) -> str:
    return os.path.join(state_root(root), HOLDER_NAME)


def _key(root: str) -> str:
    return os.path.normcase(os.path.realpath(root))


def _try_lock(fd: int, shared: bool = False) -> None:
    if sys.platform == "win32":
        import msvcrt  # Windows only

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        if shared:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl  # POSIX only

        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def read_holder(root: str) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(read_state(holder_path(root), MAX_HOLDER_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError, EnvdoctorError):
        return None
    return value if isinstance(value, dict) else None


def live_holder(root: str) -> Optional[Dict[str, Any]]:
    """Who holds the bundle's lock right now (pid, command, since), or None when nobody does."""
    path = lock_path(root)
    if not os.path.lexists(path):
        return None
    try:
        fd = open_state(path, os.O_RDONLY)
    except (OSError, EnvdoctorError):
        return None
    try:
        _try_lock(fd, shared=True)
        return None
    except OSError:
        return read_holder(root) or {"pid": "?", "since": "?", "command": "?"}
    finally:
        os.close(fd)


def _command() -> str:
    words = [a for a in sys.argv[1:] if os.sep not in a and "/" not in a][:4]  # no paths: user names
    return " ".join(words)[:120] or "envdoctor"


class BundleLock:
    """`with BundleLock(root):` — the bundle's one writer lock (see the module's docstring).

    Re-entrant within one process; a child started by the holder (its ENVDOCTOR_LOCK_TOKEN matches the
    holder file) runs under its parent's lock. When the holder leaves and nothing but
    the lock is in .envdoctor, the folder is removed again (POSIX: the lock file is unlinked while still
    held; a process that opened it before sees, once it has the lock, that the name is gone or names
    another file, and retries)."""

    def __init__(self, root: str, error_type: Any = StateError, command: Optional[str] = None) -> None:
        self.root = os.path.abspath(root)
        self.error_type = error_type
        self.command = command or _command()
        self._fd: Optional[int] = None
        self._nested = False

    def __enter__(self) -> BundleLock:
        key = _key(self.root)
        if _HELD.get(key):
            _HELD[key] += 1
            self._nested = True
            return self
        for _attempt in range(20):
            try:
                ensure_dir(self.root, state_root(self.root), self.error_type)
                fd = open_state(lock_path(self.root), os.O_RDWR | os.O_CREAT, 0o644, self.error_type)
            except OSError as exc:  # a read-only bundle, a full disk: said plainly, nothing changed
                if not os.path.isdir(self.root):
                    raise
                raise self.error_type("state.cannot_lock", path=lock_path(self.root),
                                      detail=exc.strerror or str(exc)) from exc
            try:
                _try_lock(fd)
            except OSError as exc:
                os.close(fd)
                holder = read_holder(self.root) or {}
                if self._inherited(holder):
                    _HELD[key] = 1
                    self._nested = True
                    return self
                raise self.error_type("state.busy", path=self.root, pid=holder.get("pid", "?"),
                                      command=holder.get("command", "?"), since=holder.get("since", "?")) from exc
            if _same_file(fd, lock_path(self.root)):
                break
            os.close(fd)  # the previous holder removed the file after we opened it: take the new one
        else:
            raise self.error_type("state.busy", path=self.root, pid="?", command="?", since="?")
        self._fd = fd
        self.token = uuid.uuid4().hex
        info = {"pid": os.getpid(), "command": self.command, "token": self.token,
                "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        try:
            replace_state(holder_path(self.root), json.dumps(info).encode("utf-8"))
        except OSError:
            pass  # the holder note is for messages only; the lock itself is held
        _HELD[key] = 1
        return self

    def _inherited(self, holder: Dict[str, Any]) -> bool:
        # The token is a secret only the holder's children get (the parent pid is not compared: on
        # Windows a venv's python.exe is a launcher, so envdoctor's parent may be that launcher).
        token = os.environ.get(TOKEN_ENV)
        return bool(token) and holder.get("token") == token

    def child_environment(self) -> Dict[str, str]:
        """What a child process needs to run under this lock (fix's configure/upgrade children)."""
        token = getattr(self, "token", None) or os.environ.get(TOKEN_ENV, "")
        return {TOKEN_ENV: token} if token else {}

    def __exit__(self, *exc_info: object) -> None:
        key = _key(self.root)
        if self._nested:
            _HELD[key] = _HELD.get(key, 1) - 1
            if _HELD[key] <= 0:
                _HELD.pop(key, None)
            return
        _HELD.pop(key, None)
        if self._fd is None:
            return
        try:
            self._tidy()
        finally:
            os.close(self._fd)  # closing releases the lock on both systems
            self._fd = None

    def _tidy(self) -> None:
        """Drop the holder note and the lock file, and .envdoctor when nothing else is in it: a refused
        run or a revert leaves the bundle as it found it. POSIX only for the lock file: Windows cannot
        delete a file that is open (there it stays, empty)."""
        folder = state_root(self.root)
        try:
            os.unlink(holder_path(self.root))  # it names a holder that is leaving (unlink never follows a link)
        except OSError:
            pass
        if sys.platform == "win32":
            return
        try:
            os.unlink(lock_path(self.root))  # still held: a waiter that opened it sees it gone and retries
            os.rmdir(folder)  # only when nothing else is in it
        except OSError:
            pass
