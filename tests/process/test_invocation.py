"""Hints name the command the way the user started envdoctor (issue 26, item 1): the prefix for each way
of starting it (pure function, Windows paths with ntpath), and real runs whose output names it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

from envdoctor.process.invocation import command_prefix, retarget

REPO = Path(__file__).resolve().parents[2]


def _which(table: Dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda name: table.get(name)


@pytest.mark.parametrize("argv0, executable, os_name, cwd, which, expected", [
    # The installed console script, on Linux and Windows.
    ("/usr/local/bin/envdoctor", "/usr/bin/python3", "posix", "/home/u", {}, "envdoctor"),
    ("C:\\Py\\Scripts\\envdoctor.exe", "C:\\Py\\python.exe", "nt", "D:\\GPT-SoVITS", {}, "envdoctor"),
    ("C:\\Py\\Scripts\\envdoctor", "C:\\Py\\python.exe", "nt", "D:\\GPT-SoVITS", {}, "envdoctor"),
    # python -m envdoctor: the interpreter as PATH finds it, else its full path.
    ("/src/envdoctor/envdoctor/__main__.py", "/usr/bin/python3", "posix", "/home/u", None, "python3 -m envdoctor"),
    ("/src/envdoctor/__main__.py", "/home/u/venv/bin/python", "posix", "/home/u/work",
     {"python": "/home/u/venv/bin/python"}, "python -m envdoctor"),
    ("/src/envdoctor/__main__.py", "/opt/py/bin/python3.11", "posix", "/home/u", {"python3.11": "/usr/bin/python3.11"},
     "/opt/py/bin/python3.11 -m envdoctor"),
    ("C:\\src\\envdoctor\\__main__.py", "C:\\Py311\\python.exe", "nt", "D:\\x", {"python.exe": "c:\\py311\\PYTHON.EXE"},
     "python -m envdoctor"),
    # The zipapp run by the bundle's own python, from the bundle folder (typed relative or given absolute).
    ("envdoctor.pyz", "D:\\GPT-SoVITS\\runtime\\python.exe", "nt", "D:\\GPT-SoVITS", {},
     "runtime\\python.exe envdoctor.pyz"),
    ("D:\\GPT-SoVITS\\envdoctor.pyz", "D:\\GPT-SoVITS\\runtime\\python.exe", "nt", "D:\\GPT-SoVITS\\", {},
     "runtime\\python.exe envdoctor.pyz"),
    ("D:/GPT-SoVITS/envdoctor.pyz", "d:\\gpt-sovits\\runtime\\python.exe", "nt", "D:\\GPT-SoVITS", {},
     "runtime\\python.exe envdoctor.pyz"),
    # ... from another folder (another drive): full paths; with spaces, quoted for cmd.
    ("D:\\GPT-SoVITS\\envdoctor.pyz", "D:\\GPT-SoVITS\\runtime\\python.exe", "nt", "C:\\Users\\a", {},
     "D:\\GPT-SoVITS\\runtime\\python.exe D:\\GPT-SoVITS\\envdoctor.pyz"),
    ("E:\\AI Tools\\GPT-SoVITS\\envdoctor.pyz", "E:\\AI Tools\\GPT-SoVITS\\runtime\\python.exe", "nt", "C:\\", {},
     '"E:\\AI Tools\\GPT-SoVITS\\runtime\\python.exe" "E:\\AI Tools\\GPT-SoVITS\\envdoctor.pyz"'),
    # py -3 envdoctor.pyz: a python.org install that PATH does not find as python, the launcher is there.
    ("envdoctor.pyz", "C:\\Users\\a\\AppData\\Local\\Programs\\Python\\Python311\\python.exe", "nt", "D:\\GPT-SoVITS",
     {"py": "C:\\Windows\\py.exe"}, "py -3 envdoctor.pyz"),
    # A Linux bundle / checkout: the runtime's python below the current folder.
    ("envdoctor.pyz", "/srv/gs/runtime/bin/python3", "posix", "/srv/gs", {}, "runtime/bin/python3 envdoctor.pyz"),
    ("/srv/gs/envdoctor.pyz", "/srv/gs/python3", "posix", "/srv/gs", {}, "./python3 envdoctor.pyz"),
    ("/srv/my gs/envdoctor.pyz", "/usr/bin/python3", "posix", "/tmp", None, "python3 '/srv/my gs/envdoctor.pyz'"),
])
def test_prefix_for_each_way_of_starting(argv0: str, executable: str, os_name: str, cwd: str,
                                         which: Optional[Dict[str, str]], expected: str) -> None:
    assert command_prefix(argv0, executable, os_name, cwd, None if which is None else _which(which)) == expected


def test_matrix_texts_are_retargeted() -> None:
    text = "Run `envdoctor upgrade`, or `envdoctor configure --fp16 off`; envdoctor is safe."
    pyz = "runtime\\python.exe envdoctor.pyz"
    assert retarget(text, pyz) == f"Run `{pyz} upgrade`, or `{pyz} configure --fp16 off`; envdoctor is safe."
    assert retarget(text, "envdoctor") == text


def _hint(command: list, cwd: Path, **env: str) -> str:
    """No command: a hint naming the command to type ("Run … check in the GPT-SoVITS folder"), and the
    usage; fast, no files needed."""
    environ = dict(os.environ, PYTHONPATH=str(REPO), ENVDOCTOR_LANG="en", **env)
    done = subprocess.run(command, cwd=str(cwd), capture_output=True, text=True, env=environ,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 3, done.stderr
    return " ".join((done.stdout + done.stderr).split())


def test_real_run_as_installed_script(tmp_path: Path) -> None:
    # What pip writes as the console script (bin/envdoctor): a file named envdoctor that calls main().
    script = tmp_path / "bin" / "envdoctor"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom envdoctor.cli.main import main\nsys.exit(main())\n")
    script.chmod(0o755)
    out = _hint([str(script)], tmp_path)
    assert "Run envdoctor check in the GPT-SoVITS folder" in out and "-m envdoctor" not in out


def test_real_run_with_python_m(tmp_path: Path) -> None:
    out = _hint([sys.executable, "-m", "envdoctor"], tmp_path)
    # The interpreter as PATH finds it (its bare name) or its full path: either is typed as is.
    name = os.path.basename(sys.executable)
    found = shutil.which(name)
    shown = name if found and os.path.samefile(found, sys.executable) else sys.executable
    assert f"Run {shown} -m envdoctor check in the GPT-SoVITS" in out, out
    assert f"usage: {shown} -m envdoctor [-h]" in out


@pytest.mark.slow
def test_real_run_of_the_zipapp_by_the_bundles_python(tmp_path: Path) -> None:
    bundle = tmp_path / "GPT-SoVITS"
    (bundle / "runtime" / "bin").mkdir(parents=True)
    subprocess.run([sys.executable, str(REPO / "tools" / "build_pyz.py"), "--from-installed", "-o",
                    str(bundle / "envdoctor.pyz")], check=True, capture_output=True)
    (bundle / "runtime" / "bin" / "python3").symlink_to(sys.executable)
    out = _hint(["runtime/bin/python3", "-I", "envdoctor.pyz"], bundle,
                        ENVDOCTOR_CACHE_DIR=str(tmp_path / "cache"))
    assert "Run runtime/bin/python3 envdoctor.pyz check in the GPT-SoVITS folder" in out, out
    assert "usage: runtime/bin/python3 envdoctor.pyz [-h]" in out
    # fix's children get the prefix of the command the user typed, not their own `python -m envdoctor`.
    out = _hint([sys.executable, "-m", "envdoctor"], tmp_path,
                        ENVDOCTOR_COMMAND_PREFIX="runtime\\python.exe envdoctor.pyz")
    assert "Run runtime\\python.exe envdoctor.pyz check in the GPT-SoVITS folder" in out
