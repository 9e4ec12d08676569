"""B from the bundle alone (issue 23): the seam on Linux. Windows itself runs in tests/windows
(test_lane_relaunch.py); here: the decision, the copy, the hand-off between real processes, and the
file URLs of a wheelhouse on another drive."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from envdoctor.probes.runtime import RUNTIME_DIR_NAMES
from envdoctor.process import relaunch
from envdoctor.upgrade.finder import links_from_folder
from envdoctor.upgrade.sources import file_url, file_url_path

REPO = Path(__file__).resolve().parents[2]


def _args(command: str, **extra) -> argparse.Namespace:
    defaults = {"upgrade": dict(dry_run=False, list_mirrors=False), "rollback": dict(list=False, prune=False),
                "recover": {}, "fix": dict(choose=None, demo=None)}[command]
    return argparse.Namespace(command=command, root=extra.pop("root", None), **{**defaults, **extra})


def test_only_windows_and_only_commands_that_rename_the_runtime_they_run_from(tmp_path: Path) -> None:
    assert relaunch.RUNTIME_DIR_NAMES == RUNTIME_DIR_NAMES
    (tmp_path / "runtime").mkdir()
    python = str(tmp_path / "runtime" / "python.exe")
    root = str(tmp_path)
    assert relaunch.wanted(_args("upgrade", root=root), python, "win32", {}) == str(tmp_path / "runtime")
    for args in (_args("rollback", root=root), _args("recover", root=root), _args("fix", root=root, choose="B")):
        assert relaunch.wanted(args, python, "win32", {}) is not None, args
    assert relaunch.wanted(_args("upgrade", root=root), python, "linux", {}) is None  # Linux: as before
    assert relaunch.wanted(_args("upgrade", root=root, dry_run=True), python, "win32", {}) is None
    assert relaunch.wanted(_args("rollback", root=root, list=True), python, "win32", {}) is None
    assert relaunch.wanted(_args("fix", root=root, choose="A"), python, "win32", {}) is None
    assert relaunch.wanted(_args("upgrade", root=root), r"C:\Python311\python.exe", "win32", {}) is None
    assert relaunch.wanted(_args("upgrade", root=root), python, "win32", {relaunch.ENV_ORIGINAL: "1|x"}) is None


def test_the_copy_holds_the_interpreter_and_not_site_packages(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    (runtime / "Lib" / "site-packages" / "torch").mkdir(parents=True)
    for name in ("python.exe", "python311.dll", "python3.dll", "vcruntime140.dll", "python311.zip", "_ssl.pyd",
                 "ffmpeg.exe"):
        (runtime / name).write_bytes(b"MZ " + name.encode())
    (runtime / "python311._pth").write_bytes(b"python311.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n")
    copy = tmp_path / "copy"
    relaunch.copy_interpreter(str(runtime), str(copy), [r"E:\tools\envdoctor"])
    names = sorted(p.name for p in copy.iterdir())
    assert names == ["Lib", "_ssl.pyd", "python.exe", "python3.dll", "python311._pth", "python311.dll",
                     "python311.zip", "vcruntime140.dll"]
    assert not (copy / "Lib" / "site-packages").exists()  # the copy never reads runtime\'s packages
    pth = (copy / "python311._pth").read_bytes().decode().split("\r\n")
    assert pth == ["python311.zip", ".", "import site", r"E:\tools\envdoctor", ""]


def test_the_original_hands_over_before_the_swap_and_is_gone_when_it_starts(tmp_path: Path) -> None:
    """The original (runtime\\python.exe on Windows) waits for the relaunched child, and exits as soon as the
    child asks (right before its first rename); the child goes on only once the original has ended."""
    report = tmp_path / "report"
    child = (f"import os, sys, time; sys.path.insert(0, {str(REPO)!r}); from envdoctor.process import relaunch; "
             f"parent = relaunch.original(); relaunch.release_original(); "
             f"time.sleep(0.3); open({str(report)!r}, 'w').write(str(parent) + ' ' + str(os.getppid()))")
    original = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from envdoctor.process import relaunch; "
                f"sys.exit(relaunch.run_relaunched([sys.executable, '-c', {child!r}], {str(tmp_path / 'h')!r}))")
    done = subprocess.run([sys.executable, "-c", original], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0
    for _ in range(100):
        if report.exists() and report.read_text():
            break
        time.sleep(0.05)
    parent, ppid = report.read_text().split()
    assert parent.isdigit() and parent != ppid  # by then the original had ended (the child was re-parented)


def test_the_original_returns_the_childs_code_when_nothing_is_swapped(tmp_path: Path) -> None:
    code = relaunch.run_relaunched([sys.executable, "-c", "import sys; sys.exit(2)"], str(tmp_path / "h"))
    assert code == 2


def test_a_wheelhouse_url_keeps_the_drive_and_odd_characters(tmp_path: Path) -> None:
    folder = tmp_path / "fix #1 100%"
    folder.mkdir()
    (folder / "torch-2.7.0+cu128-cp311-cp311-win_amd64.whl").write_bytes(b"PK")
    link = links_from_folder(str(folder))[0]
    assert link.local_path == str(folder / link.filename)  # '#' and '%' used to cut the path
    # Windows: the drive stays in the path; the old hand-built form (drive as host) is still read right
    assert file_url_path("file:///E:/fixpack/t%2Bx.whl", windows=True) == "E:\\fixpack\\t+x.whl"
    assert file_url_path("file://E:/fixpack/t.whl", windows=True) == "E:\\fixpack\\t.whl"
    assert file_url_path("file://server/share/t.whl", windows=True) == "\\\\server\\share\\t.whl"
    assert file_url(str(folder)).startswith("file:///")


def test_launchers_recover_a_missing_runtime_with_the_copy_and_call_no_program() -> None:
    """Issue 28.2: after an interrupted two-rename swap runtime\\python.exe is gone; the launcher block and
    fix-env.bat run `recover` with the interpreter copy (Wine runs them: tests/windows)."""
    from envdoctor.fix.launchers import launcher_files
    from envdoctor.gptsovits.launchers import bat_body, check_command

    check = check_command("go-webui.bat", "auto", True, None)
    lines = bat_body({}, check, "stop", "runtime missing")
    assert lines[0] == 'if exist "%~dp0runtime\\python.exe" goto envdoctor_check'
    assert '"%~dp0.envdoctor\\python\\python.exe" "%~dp0envdoctor.pyz" recover --root "%~dp0."' in lines
    assert f'{check} check --launcher --root "%~dp0."' in lines and not any(line.startswith("call ") for line in lines)
    bat = launcher_files()["fix-env.bat"].decode("ascii").split("\r\n")
    assert "if exist .envdoctor\\python\\python.exe .envdoctor\\python\\python.exe envdoctor.pyz recover" in bat
    assert bat.index(":envdoctor_fix") < bat.index("runtime\\python.exe envdoctor.pyz fix %*")
