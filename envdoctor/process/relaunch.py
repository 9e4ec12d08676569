"""B from the bundle alone: a change to runtime\\ started by runtime\\python.exe itself (Windows).

Windows cannot rename a folder while a program runs from it, and the bundle's users have no other
Python: `runtime\\python.exe envdoctor.pyz upgrade` (or fix, rollback, recover) would hold the very folder
its swap must rename. So on Windows such a command first copies what the interpreter needs (python.exe,
its DLLs, the standard library minus site-packages, the ._pth adjusted, envdoctor's own files where they
live inside runtime\\) to `<root>\\.envdoctor\\python\\`, outside runtime\\ and on the bundle's drive, and
runs the same command from that copy, in the same console (the child inherits stdin/stdout/stderr).

The original waits for the child and exits with its code, except at the one moment it must be gone:
right before the swap's first rename the child asks it to exit (`release_original`, a hand-off file), and
waits until it has. The original then exits 0 ("the change is going ahead"); the child finishes the swap
and prints the end in the same console. A failure before the swap (a refused plan, a failed
verification) still reaches the console with the child's own exit code.

The copy is kept (one per bundle, refreshed when the runtime's interpreter changes): the launcher block
and fix-env.bat run `recover` with it when runtime\\ is missing after an interrupted swap (issue 28).

On Linux nothing is copied: a running program does not hold its folder there (`wanted` says so).
"""

from __future__ import annotations

import json
import ntpath
import os
import shutil
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence

if TYPE_CHECKING:
    import argparse

# probes.runtime's RUNTIME_DIR_NAMES (not imported: swap.py imports this module, and rollback must stay light)
RUNTIME_DIR_NAMES = ("runtime",)

# Set in the relaunched child (and inherited by its own children, e.g. fix's `upgrade`): the original's
# pid and the hand-off file it watches.
ENV_ORIGINAL = "ENVDOCTOR_RELAUNCHED_FROM"
COPY_DIR = ("python",)  # under <root>\.envdoctor
SIGNATURE = "envdoctor-copy.json"
# Top-level files of a Windows runtime the interpreter needs (embeddable or full install); the rest of the
# top level (ffmpeg.exe, a CUDA DLL someone dropped there) is not the interpreter's.
_INTERPRETER_PREFIXES = ("python", "vcruntime", "msvcp", "concrt", "libffi", "libssl", "libcrypto", "sqlite3",
                         "api-ms-win-", "ucrtbase", "zlib")
_STDLIB_SKIP = ("site-packages", "test", "tests", "idlelib", "turtledemo", "tkinter", "ensurepip", "__pycache__")
# The packages envdoctor imports (the pyz carries them; `-m envdoctor` finds them where they are installed).
_OWN_PACKAGES = ("envdoctor", "packaging", "rich", "requests", "yaml", "pynvml", "urllib3", "idna", "certifi",
                 "charset_normalizer", "markdown_it", "mdurl", "pygments", "typing_extensions")
HANDOFF_WAIT_S = 30.0


class CannotRelaunch(Exception):
    """Why the copy cannot run envdoctor (then the command's own refusal stands)."""


def runtime_of(root: Optional[str]) -> str:
    """The runtime folder a command on ROOT changes, as find_runtime picks it (runtime\\, else ROOT itself)."""
    base = os.path.abspath(root or os.getcwd())
    for name in RUNTIME_DIR_NAMES:
        if os.path.isdir(os.path.join(base, name)):
            return os.path.join(base, name)
    return base


def changes_runtime(args: argparse.Namespace) -> bool:
    """Whether this command may rename runtime\\ (a dry run, a list or a prune never does)."""
    command = getattr(args, "command", None)
    if command == "upgrade":
        return not (args.dry_run or args.list_mirrors)
    if command == "rollback":
        return not (args.list or args.prune)
    if command == "recover":
        return True
    if command == "fix":  # fix may choose B, which runs `upgrade` as its child
        return args.choose != "A" and not args.demo
    return False


def wanted(args: argparse.Namespace, interpreter: Optional[str] = None, platform: Optional[str] = None,
           environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The runtime folder to step out of, or None: only on Windows, only for a command that may rename
    the runtime the running interpreter comes from, and never twice."""
    platform = platform or sys.platform
    env: Mapping[str, str] = os.environ if environ is None else environ
    if platform != "win32" or env.get(ENV_ORIGINAL) or not changes_runtime(args):
        return None
    runtime = runtime_of(getattr(args, "root", None))
    if not lives_under(interpreter or sys.executable, runtime):
        return None
    return runtime


def lives_under(path: str, folder: str) -> bool:
    base = ntpath.normcase(ntpath.normpath(folder)).rstrip("\\") + "\\"
    return ntpath.normcase(ntpath.normpath(path)).startswith(base)


# -- the copy -------------------------------------------------------------------------------------

def interpreter_files(runtime: str) -> List[str]:
    """The top-level files of RUNTIME the interpreter needs (names relative to RUNTIME)."""
    out = []
    for name in sorted(os.listdir(runtime)):
        lower = name.lower()
        if not os.path.isfile(os.path.join(runtime, name)):
            continue
        if lower.endswith(".pyd") or (lower.startswith(_INTERPRETER_PREFIXES)
                                      and lower.endswith((".exe", ".dll", ".zip", "._pth"))):
            out.append(name)
    if not any(name.lower() == "python.exe" for name in out):
        raise CannotRelaunch(f"no python.exe in {runtime}")
    return out


def _signature(runtime: str, names: Sequence[str], extra: Sequence[str]) -> Dict[str, List[int]]:
    out = {}
    for path in [os.path.join(runtime, name) for name in names] + list(extra):
        info = os.stat(path)
        out[path] = [info.st_size, info.st_mtime_ns]
    return out


def _pth_lines(text: str, runtime: str, copy: str, extra_paths: Sequence[str]) -> List[str]:
    """The runtime's ._pth for the copy: entries that resolve inside the copy stay, site-packages and
    anything else under runtime\\ go (the copy must not read runtime\\), envdoctor's own paths are added."""
    out = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#") or entry.startswith("import "):
            out.append(line)
            continue
        if ntpath.isabs(entry):
            if not lives_under(entry, runtime):
                out.append(line)
            continue
        if "site-packages" not in entry.lower() and os.path.exists(os.path.join(copy, entry)):
            out.append(line)
    return out + list(extra_paths)


def _copy_tree(source: str, target: str) -> None:
    shutil.copytree(source, target, ignore=lambda _d, names: [n for n in names if n.lower() in _STDLIB_SKIP])


def _own_code(runtime: str, copy_dir: str) -> List[str]:
    """How the copy runs envdoctor: [pyz] or ["-m", "envdoctor"]; a pyz inside runtime\\ is copied beside
    the interpreter copy. An installed envdoctor whose packages live in runtime\\ cannot be run from outside."""
    import envdoctor

    archive = getattr(envdoctor, "PYZ_ARCHIVE", None) or (sys.argv[0] if sys.argv and sys.argv[0].lower().endswith(
        ".pyz") else None)
    if archive and os.path.isfile(archive):
        archive = os.path.abspath(archive)
        if lives_under(archive, runtime):
            target = os.path.join(copy_dir, os.path.basename(archive))
            shutil.copy2(archive, target)
            return [target]
        return [archive]
    return ["-m", "envdoctor"]


def package_paths(runtime: str) -> List[str]:
    """The folders `-m envdoctor` imports from (envdoctor and its dependencies), for the copy's ._pth."""
    import importlib.util

    found: List[str] = []
    for name in _OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        folder = os.path.dirname(os.path.dirname(spec.origin)) if spec.submodule_search_locations else \
            os.path.dirname(spec.origin)
        if lives_under(folder, runtime):
            raise CannotRelaunch(f"{name} is installed in {runtime}")
        if folder not in found:
            found.append(folder)
    return found


def copy_interpreter(runtime: str, target: str, extra_paths: Sequence[str] = ()) -> None:
    """Fill TARGET (new) with what RUNTIME's python.exe needs to start without runtime\\."""
    names = interpreter_files(runtime)
    os.makedirs(target)
    for name in names:
        if not name.lower().endswith("._pth"):
            shutil.copy2(os.path.join(runtime, name), os.path.join(target, name))
    for folder in ("DLLs", "Lib"):  # a full install's (the embeddable one has a zip and top-level .pyd)
        if os.path.isdir(os.path.join(runtime, folder)):
            _copy_tree(os.path.join(runtime, folder), os.path.join(target, folder))
    pth = [name for name in names if name.lower().endswith("._pth")]
    for name in pth:
        with open(os.path.join(runtime, name), encoding="utf-8", errors="replace") as handle:
            lines = _pth_lines(handle.read(), runtime, target, extra_paths)
        with open(os.path.join(target, name), "w", encoding="utf-8", newline="\r\n") as handle:
            handle.write("\n".join(lines) + "\n")
    if not pth and extra_paths:
        # No ._pth: a full install finds Lib\ by itself; envdoctor's folders come in a ._pth of its own
        # (which also keeps the user's PYTHONPATH from reaching the copy).
        version = next((n[len("python"):-len(".dll")] for n in names
                        if n.lower().startswith("python3") and n.lower().endswith(".dll") and n[7:-4].isdigit()), "")
        lines = ["Lib", "DLLs", ".", *extra_paths, "import site"]
        if version:
            with open(os.path.join(target, f"python{version}._pth"), "w", encoding="utf-8", newline="\r\n") as handle:
                handle.write("\n".join(lines) + "\n")


def prepare_copy(root: str, runtime: str) -> List[str]:
    """The command that runs envdoctor from the interpreter copy under <root>\\.envdoctor\\python (made or
    refreshed here): [python.exe, pyz] or [python.exe, -m, envdoctor]."""
    names = interpreter_files(runtime)
    parent = os.path.join(root, ".envdoctor")
    os.makedirs(parent, exist_ok=True)
    _remove_stale(parent)
    final = os.path.join(parent, *COPY_DIR)
    own_probe = _own_code(runtime, parent)
    extra = package_paths(runtime) if own_probe[0] == "-m" else []
    wanted_signature = {"files": _signature(runtime, names, []), "paths": extra}
    if _read_signature(final) == wanted_signature:
        return [os.path.join(final, "python.exe"), *own_probe]
    work = os.path.join(parent, f"python.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    copy_interpreter(runtime, work, extra)
    with open(os.path.join(work, SIGNATURE), "w", encoding="utf-8") as handle:
        json.dump(wanted_signature, handle)
    try:
        if os.path.lexists(final):
            old = os.path.join(parent, f"python.old-{os.getpid()}")
            os.rename(final, old)  # refused where another run still uses it: then this run uses its own
            shutil.rmtree(old, ignore_errors=True)
        os.rename(work, final)
    except OSError:
        final = work
    return [os.path.join(final, "python.exe"), *own_probe]


def _read_signature(folder: str) -> Optional[dict]:
    try:
        with open(os.path.join(folder, SIGNATURE), encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(os.path.join(folder, "python.exe")):
        return None
    return value if isinstance(value, dict) else None


def _remove_stale(parent: str) -> None:
    """Copies left by earlier runs (a crash, or one that was in use): removed when nothing holds them."""
    for name in os.listdir(parent):
        if name.startswith(("python.tmp-", "python.old-")) and name != f"python.tmp-{os.getpid()}":
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


# -- the relaunch and the hand-off ----------------------------------------------------------------

def run_relaunched(command: Sequence[str], handoff: str, environ: Optional[Dict[str, str]] = None) -> int:
    """Run COMMAND in this console and return its exit code; or 0 as soon as the child asks this process to
    go (HANDOFF exists: it is about to rename runtime\\). Ctrl-C reaches the child too: its code is ours."""
    try:
        os.unlink(handoff)
    except OSError:
        pass
    env = dict(os.environ if environ is None else environ)
    env[ENV_ORIGINAL] = f"{os.getpid()}|{handoff}"
    child = subprocess.Popen(list(command), env=env)
    while True:
        try:
            code = child.wait(timeout=0.1)
            _unlink(handoff)
            return code
        except subprocess.TimeoutExpired:
            if os.path.exists(handoff):
                code = _handoff_code(handoff)
                _unlink(handoff)
                return code
        except KeyboardInterrupt:
            continue  # the child got the same Ctrl-C; its exit code says what it did


def _handoff_code(path: str) -> int:
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def original() -> Optional[int]:
    """The pid of the process this one was relaunched from (running from runtime\\), if any."""
    value = os.environ.get(ENV_ORIGINAL, "")
    pid = value.split("|", 1)[0]
    return int(pid) if pid.isdigit() else None


def release_original(code: int = 0, timeout: float = HANDOFF_WAIT_S) -> None:
    """Called right before a swap renames runtime\\: ask the original to exit (with CODE) and wait until it
    has, so that nothing runs from runtime\\ any more. Once per process; nothing to do when not relaunched."""
    value = os.environ.pop(ENV_ORIGINAL, "")
    if "|" not in value:
        return
    pid_text, handoff = value.split("|", 1)
    if not pid_text.isdigit():
        return
    tmp = f"{handoff}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write(str(code))
        os.replace(tmp, handoff)
    except OSError:
        return  # the rename below then reports the folder in use, as without a relaunch
    wait_for_exit(int(pid_text), timeout)


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True once process PID has ended (False after TIMEOUT seconds)."""
    if sys.platform == "win32":  # pragma: no cover - Windows (the lane runs it)
        import ctypes  # Windows only: wait on the process handle

        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return True  # already gone
        try:
            return kernel32.WaitForSingleObject(handle, int(timeout * 1000)) == 0
        finally:
            kernel32.CloseHandle(handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        if _zombie(pid):  # ended, not yet reaped by its parent
            return True
        time.sleep(0.05)
    return False


def possible(runtime: str) -> bool:
    """Whether envdoctor started from RUNTIME's python.exe can step out of it (the upgrade's preflight
    refuses only where it cannot: envdoctor installed inside runtime\\, a root that is the runtime itself)."""
    if os.path.basename(os.path.normpath(runtime)).lower() not in RUNTIME_DIR_NAMES:
        return False
    try:
        interpreter_files(runtime)
        import envdoctor

        if not (getattr(envdoctor, "PYZ_ARCHIVE", None) or (sys.argv and sys.argv[0].lower().endswith(".pyz"))):
            package_paths(runtime)
    except (CannotRelaunch, OSError):
        return False
    return True


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def relaunch(args: argparse.Namespace, argv: Sequence[str]) -> Optional[int]:
    """The exit code of ARGV run from the interpreter copy, when this command must step out of runtime\\;
    None when it need not (or cannot: the command's own refusal then says why)."""
    runtime = wanted(args)
    if runtime is None:
        return None
    if os.path.basename(runtime).lower() not in RUNTIME_DIR_NAMES:
        return None  # the root is the runtime itself: no folder of the bundle lies outside it
    root = os.path.dirname(runtime)
    try:
        command = prepare_copy(root, runtime)
    except (CannotRelaunch, OSError):
        return None
    handoff = os.path.join(os.path.dirname(command[0]), f"handoff-{os.getpid()}")
    return run_relaunched([*command, *argv], handoff)
