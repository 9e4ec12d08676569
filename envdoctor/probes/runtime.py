r"""Finding the Python runtime to inspect, from files (no interpreter is started if files suffice).

Layouts recognised:
  windows-embedded  runtime/python.exe + runtime/Lib/site-packages (GPT-SoVITS Windows bundle)
  windows-venv      X/Scripts/python.exe + X/Lib/site-packages (venv / conda on Windows)
                    Windows names are matched as Windows does, ignoring case: GPT-SoVITS' own
                    tracebacks spell it runtime\lib\site-packages.
  posix-prefix      X/bin/python3 + X/lib/python3.Y/site-packages (venv, conda, bundle on Linux)
  interpreter       any other `--python`: the interpreter itself is asked where its packages live
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from pathlib import Path
from typing import Optional, Tuple

from envdoctor.errors import ProbeError, UsageError
from envdoctor.fileio.jsoncache import JsonCache, file_stamp
from envdoctor.fileio.safeio import path_kind
from envdoctor.model import Runtime
from envdoctor.probes.runner import Runner, SubprocessRunner

RUNTIME_DIR_NAMES = ("runtime",)
# python311.dll / python311._pth / python311.zip of an embeddable Python name its version even
# when it cannot be run (a Windows bundle checked from Linux).
_DLL_VERSION = re.compile(r"^python3(\d+)\.(dll|_pth|zip)$", re.IGNORECASE)
_LIB_VERSION = re.compile(r"^python3\.(\d+)t?$")

_ASK_INTERPRETER = (
    "import json, sys, sysconfig, site\n"
    "paths = []\n"
    "for key in ('purelib', 'platlib'):\n"
    "    p = sysconfig.get_paths().get(key)\n"
    "    if p and p not in paths: paths.append(p)\n"
    "for p in getattr(site, 'getsitepackages', lambda: [])():\n"
    "    if p not in paths: paths.append(p)\n"
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], 'platform': sys.platform,"
    " 'prefix': sys.prefix, 'site_packages': paths}))\n"
)


def find_runtime(
    root: Optional[str] = None,
    python: Optional[str] = None,
    runner: Optional[Runner] = None,
    cache: Optional[JsonCache] = None,
) -> Runtime:
    """Locate the runtime under a GPT-SoVITS root, or describe the interpreter `python`."""
    try:
        if python:
            return describe_interpreter(python, runner=runner, cache=cache)
        base = Path(root or os.getcwd())
        _require(base, "directory", "error.root_not_found")
        for candidate in [base / name for name in RUNTIME_DIR_NAMES] + [base]:
            runtime = _from_prefix(candidate)
            if runtime is not None:
                return runtime
    except PermissionError as exc:
        # A folder on the way cannot be searched (Path.exists raises instead of saying no).
        raise UsageError("safety.path.unreadable", path=exc.filename or python or root or ".",
                         detail=exc.strerror or str(exc)) from exc
    raise UsageError("error.no_runtime", path=str(base))


def _require(path: Path, wanted: str, missing_key: str) -> str:
    """Say what is really at `path` when it is not the `wanted` kind ("directory" or "file"): a
    symlink loop, a device, a FIFO, a file where a folder belongs, an unreadable folder on the way."""
    kind = path_kind(str(path))
    if kind == wanted or (wanted == "file" and kind == "directory"):
        return kind
    if kind in ("missing",):
        raise UsageError(missing_key, path=str(path))
    if kind == "file" and wanted == "directory":
        kind = "not_directory"
    if kind == "unreadable":
        raise UsageError("safety.path.unreadable", path=str(path), detail="permission denied")
    raise UsageError(f"safety.path.{kind}", path=str(path))


def describe_interpreter(python: str, runner: Optional[Runner] = None, cache: Optional[JsonCache] = None) -> Runtime:
    exe = Path(python)
    _require(exe, "file", "error.python_not_found")
    if exe.is_dir():
        runtime = _from_prefix(exe)
        if runtime is None:
            raise UsageError("error.no_runtime", path=python)
        return runtime
    parent = exe.parent
    prefix = parent.parent if parent.name.lower() in ("bin", "scripts") else parent
    runtime = _from_prefix(prefix, interpreter=exe)
    if runtime is not None:
        return runtime
    return _ask_interpreter(exe, runner or SubprocessRunner(), cache)


def _from_prefix(prefix: Path, interpreter: Optional[Path] = None) -> Optional[Runtime]:
    if not prefix.is_dir():
        return None
    lib = _child_any_case(prefix, "Lib")
    lib_site = _child_any_case(lib, "site-packages") if lib is not None else None
    site = (str(lib_site),) if lib_site is not None and lib_site.is_dir() else ()
    embedded_exe = _child_any_case(prefix, "python.exe")
    if embedded_exe is not None and embedded_exe.is_file():
        exe = interpreter or embedded_exe
        return Runtime(str(prefix), str(exe), "windows-embedded", "windows", _windows_version(prefix), site)
    scripts = _child_any_case(prefix, "Scripts")
    venv_exe = _child_any_case(scripts, "python.exe") if scripts is not None else None
    if (venv_exe is not None and venv_exe.is_file()) or (interpreter is not None
                                                         and interpreter.suffix.lower() == ".exe"):
        chosen = interpreter or venv_exe
        return Runtime(str(prefix), str(chosen), "windows-venv", "windows", _windows_version(prefix), site)
    posix_exe = interpreter
    if posix_exe is None:
        for name in ("python3", "python"):
            if (prefix / "bin" / name).exists():
                posix_exe = prefix / "bin" / name
                break
    if posix_exe is None:
        return None
    site_dirs = sorted(glob.glob(str(prefix / "lib" / "python3.*" / "site-packages")))
    if not site_dirs:
        return None
    version = _cfg_version(prefix)
    if version is None:
        versions = [_LIB_VERSION.match(Path(p).parent.name) for p in site_dirs]
        minors = [m.group(1) for m in versions if m]
        version = f"3.{minors[-1]}" if minors else None
    return Runtime(str(prefix), str(posix_exe), "posix-prefix", _posix_platform(), version, tuple(site_dirs))


def _child_any_case(folder: Path, name: str) -> Optional[Path]:
    """folder/name as Windows finds it: the exact name first, else any entry equal ignoring case."""
    exact = folder / name
    if exact.exists():
        return exact
    try:
        entries = os.listdir(folder)
    except OSError:
        return None
    wanted = name.lower()
    return next((folder / entry for entry in sorted(entries) if entry.lower() == wanted), None)


def _posix_platform() -> str:
    return "darwin" if sys.platform == "darwin" else "linux"


def _cfg_version(prefix: Path) -> Optional[str]:
    """pyvenv.cfg's 'version' (or 'version_info') line, present in venvs."""
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def _windows_version(prefix: Path) -> Optional[str]:
    version = _cfg_version(prefix)
    if version:
        return version
    try:
        names = os.listdir(prefix)
    except OSError:
        return None
    minors = sorted({int(m.group(1)) for m in map(_DLL_VERSION.match, names) if m})
    # python3.dll (the stable-ABI forwarder, no minor) never matches; the newest named minor wins.
    return f"3.{minors[-1]}" if minors else None


def _well_formed(answer: object) -> bool:
    return (isinstance(answer, dict) and isinstance(answer.get("site_packages"), list)
            and all(isinstance(p, str) for p in answer["site_packages"])
            and all(isinstance(answer.get(k), str) for k in ("platform", "prefix", "version")))


def _ask_interpreter(exe: Path, runner: Runner, cache: Optional[JsonCache]) -> Runtime:
    key = "interp:" + file_stamp(str(exe.resolve()))
    answer = cache.get(key) if cache else None
    if not _well_formed(answer):
        result = runner.run([str(exe), "-I", "-c", _ASK_INTERPRETER], timeout=20)
        if result.returncode != 0:
            detail = (result.start_error or result.stderr or result.stdout or "").strip()[-300:]
            raise ProbeError("error.not_python", path=str(exe), detail=detail)
        lines = result.stdout.strip().splitlines()
        if not lines:
            raise ProbeError("error.not_python", path=str(exe), detail="it ran, but answered nothing")
        try:
            answer = json.loads(lines[-1])
        except (ValueError, RecursionError) as exc:
            raise ProbeError("error.not_python", path=str(exe), detail=f"its answer is not JSON: {lines[-1][:80]!r}") \
                from exc
        if not _well_formed(answer):
            raise ProbeError("error.not_python", path=str(exe), detail="its answer lacks prefix, version or paths")
        if cache:
            cache.put(key, answer)
    assert isinstance(answer, dict)
    platform = "windows" if answer["platform"] == "win32" else answer["platform"]
    site_dirs: Tuple[str, ...] = tuple(p for p in answer["site_packages"] if os.path.isdir(p))
    return Runtime(answer["prefix"], str(exe), "interpreter", platform, answer["version"], site_dirs,
                   source="interpreter")
