"""Windows-only hazards of an upgrade, each behind a seam that tests drive on Linux.

- The WebUI still running from runtime\\ : there is no /proc, so the processes are listed through the
  Win32 API (`list_processes`) and matched on their image path (`users_of`, case-insensitive).
- Paths over 260 characters: the stage lives deeper than runtime\\ (.envdoctor\\upgrade\\tx-<id>\\stage),
  so a file that fits today may not fit there unless long paths are enabled (`long_path_problem`).
- Scripts\\*.exe launchers written by pip embed the interpreter's path in a `#!` line between the
  launcher stub and its zip archive; after the swap they must name runtime\\python.exe, not the stage's
  (`fix_exe_launchers`). The launcher finds the line from the zip's end records, so the archive bytes
  must stay as they are while the line changes length.
"""

from __future__ import annotations

import ntpath
import os
import shutil
import struct
import sys
from typing import Iterable, List, Optional, Sequence, Tuple

from envdoctor.upgrade.swap import envdoctor_pids

MAX_PATH = 260


# -- processes ------------------------------------------------------------------------------------

def lives_under(path: str, folder: str) -> bool:
    """Whether the Windows path `path` lies inside `folder` (any case, either slash; a sibling such as
    runtime-old is not inside runtime)."""
    base = ntpath.normcase(ntpath.normpath(folder)).rstrip("\\") + "\\"
    return ntpath.normcase(ntpath.normpath(path)).startswith(base)


def users_of(runtime: str, processes: Iterable[Tuple[int, str]]) -> List[str]:
    """'pid (image)' for each process whose image lives under `runtime` (Windows paths, any case)."""
    return [f"{pid} ({image})" for pid, image in processes if image and lives_under(image, runtime)]


def list_processes() -> List[Tuple[int, str]]:  # pragma: no cover - Windows only
    """(pid, full image path) of every process this user may query."""
    # Windows only (psapi, kernel32).
    import ctypes
    from ctypes import wintypes

    psapi = ctypes.WinDLL("psapi")  # type: ignore[attr-defined]
    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    pids = (wintypes.DWORD * 8192)()
    needed = wintypes.DWORD()
    if not psapi.EnumProcesses(ctypes.byref(pids), ctypes.sizeof(pids), ctypes.byref(needed)):
        return []
    out = []
    for pid in list(pids)[: needed.value // ctypes.sizeof(wintypes.DWORD)]:
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            continue
        try:
            size = wintypes.DWORD(32768)
            buf = ctypes.create_unicode_buffer(size.value)
            if kernel32.QueryFullProcessImageNameW(handle, 0, buf, ctypes.byref(size)):
                out.append((int(pid), buf.value))
        finally:
            kernel32.CloseHandle(handle)
    return out


def processes_using_runtime(runtime: str) -> List[str]:
    if sys.platform != "win32":
        return []
    try:
        ours = envdoctor_pids()
        return users_of(runtime, [(pid, image) for pid, image in list_processes() if pid not in ours])
    except Exception:  # noqa: BLE001 - the failing rename still reports "in use" later
        return []


def programs_in(folder: str) -> List[str]:
    """Every other process running from FOLDER, envdoctor's own included: what makes Windows refuse to
    rename it. Wine allows that rename, so the swap asks this first and refuses as Windows would."""
    if sys.platform != "win32":
        return []
    try:
        return users_of(folder, [(pid, image) for pid, image in list_processes() if pid != os.getpid()])
    except Exception:  # noqa: BLE001 - the rename itself still fails where Windows refuses it
        return []


# -- long paths -----------------------------------------------------------------------------------

def long_paths_enabled() -> bool:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        return True
    try:
        import winreg  # Windows only

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem") as key:
            return winreg.QueryValueEx(key, "LongPathsEnabled")[0] == 1
    except OSError:
        return False


def long_path_problem(stage: str, relative_paths: Sequence[str], enabled: bool) -> Optional[Tuple[str, int]]:
    """(the longest path in the stage, its length) when it passes MAX_PATH and long paths are off."""
    if enabled or not relative_paths:
        return None
    longest = max(relative_paths, key=len)
    full = ntpath.join(stage, longest.replace("/", "\\"))
    return (full, len(full)) if len(full) >= MAX_PATH else None


def tree_relative_paths(root: str) -> List[str]:
    out = []
    for dirpath, _dirs, names in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in names:
            out.append(name if rel == "." else os.path.join(rel, name))
    return out


# -- Scripts\*.exe launchers --------------------------------------------------------------------

def _archive_start(data: bytes) -> Optional[int]:
    """Where the launcher's appended zip begins, from its end-of-central-directory record."""
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        return None
    cd_size, cd_offset = struct.unpack("<II", data[at + 12:at + 20])
    start = at - cd_size - cd_offset
    return start if start >= 0 else None


def rewrite_launcher(data: bytes, old_python: str, new_python: str) -> Optional[bytes]:
    """The launcher with its `#!` line naming `new_python`; None when it names something else."""
    start = _archive_start(data)
    if start is None:
        return None
    line_start = data.rfind(b"#!", 0, start)
    if line_start < 0:
        return None
    line = data[line_start:start]
    target = line[2:].rstrip(b"\r\n").strip(b'"')
    if ntpath.normcase(target.decode("utf-8", "replace")) != ntpath.normcase(old_python):
        return None
    ending = line[len(line.rstrip(b"\r\n")):]
    quoted = line[2:3] == b'"'
    new_line = b"#!" + (b'"' if quoted else b"") + new_python.encode("utf-8") + (b'"' if quoted else b"") + ending
    return data[:line_start] + new_line + data[start:]


def fix_exe_launchers(stage: str, final: str, python_name: str = "python.exe") -> int:
    """Point the stage's Scripts\\*.exe launchers at the final runtime's interpreter."""
    scripts = os.path.join(stage, "Scripts")
    if not os.path.isdir(scripts):
        return 0
    old_python = os.path.join(stage, python_name)
    new_python = os.path.join(final, python_name)
    fixed = 0
    for name in os.listdir(scripts):
        path = os.path.join(scripts, name)
        if not name.lower().endswith(".exe") or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if not data.startswith(b"MZ"):
            continue
        new = rewrite_launcher(data, old_python, new_python)
        if new is None:
            continue
        tmp = path + ".envdoctor-tmp"
        with open(tmp, "wb") as handle:
            handle.write(new)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
        fixed += 1
    return fixed
