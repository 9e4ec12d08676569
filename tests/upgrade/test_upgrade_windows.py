"""Windows-only hazards, driven on Linux through their seams (envdoctor/upgrade/windows.py)."""

from __future__ import annotations

import io
import os
import struct
import zipfile

from envdoctor.upgrade import windows
from envdoctor.upgrade.preflight import _long_paths

RUNTIME = r"D:\AI\GPT-SoVITS-v2pro-20250604\runtime"


def test_webui_running_from_the_runtime_is_named():
    processes = [(4242, r"d:\ai\gpt-sovits-v2pro-20250604\RUNTIME\python.exe"),  # any case, as Windows reports
                 (77, r"C:\Windows\explorer.exe"),
                 (78, r"D:\AI\GPT-SoVITS-v2pro-20250604\runtime-old\python.exe")]  # a sibling, not inside
    assert windows.users_of(RUNTIME, processes) == [r"4242 (d:\ai\gpt-sovits-v2pro-20250604\RUNTIME\python.exe)"]


def test_paths_that_pass_260_in_the_stage_are_found():
    rel = ["Lib/site-packages/torch/include/ATen/native/" + "x" * 140 + ".h", "python.exe"]
    stage = r"D:\AI\GPT-SoVITS-v2pro-20250604\.envdoctor\upgrade\tx-" + "0" * 23 + r"\stage"
    problem = windows.long_path_problem(stage, rel, enabled=False)
    assert problem is not None and problem[1] >= windows.MAX_PATH and problem[0].endswith(".h")
    assert windows.long_path_problem(r"D:\G\.envdoctor\upgrade\tx-x\stage", rel, enabled=True) is None
    assert windows.long_path_problem(r"D:\G\s", ["python.exe"], enabled=False) is None


def test_long_path_check_of_a_runtime_folder(tmp_path):
    deep = tmp_path / "runtime" / "Lib" / "site-packages" / ("p" * 100)
    deep.mkdir(parents=True)
    (deep / ("f" * 100 + ".py")).write_text("x = 1\n")
    assert _long_paths(str(tmp_path / "runtime"), lambda: False) is not None
    assert _long_paths(str(tmp_path / "runtime"), lambda: True) is None


def _launcher(python: str) -> bytes:
    """A pip/distlib-style launcher: stub exe, `#!` line, then a zip whose offsets start at the zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("__main__.py", "import sys\nfrom gradio.cli import cli\nsys.exit(cli())\n")
    return b"MZ" + b"\0" * 300 + b"#!" + python.encode() + b"\r\n" + buf.getvalue()


def test_scripts_exe_launchers_are_pointed_at_the_final_runtime(tmp_path):
    stage = str(tmp_path / "stage")
    final = str(tmp_path / "runtime")
    os.makedirs(os.path.join(stage, "Scripts"))
    exe = os.path.join(stage, "Scripts", "gradio.exe")
    with open(exe, "wb") as handle:
        handle.write(_launcher(os.path.join(stage, "python.exe")))
    other = os.path.join(stage, "Scripts", "other.exe")  # names some other interpreter: left alone
    with open(other, "wb") as handle:
        handle.write(_launcher(r"C:\Python311\python.exe"))
    assert windows.fix_exe_launchers(stage, final) == 1
    with open(exe, "rb") as handle:
        data = handle.read()
    # what the launcher does: find the zip from its end record, read the line before it
    at = data.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", data[at + 12:at + 20])
    start = at - cd_size - cd_offset
    line = data[data.rfind(b"#!", 0, start):start]
    assert line == b"#!" + os.path.join(final, "python.exe").encode() + b"\r\n"
    with zipfile.ZipFile(io.BytesIO(data[start:])) as archive:
        assert b"gradio.cli" in archive.read("__main__.py")
    with open(other, "rb") as handle:
        assert b"#!C:\\Python311\\python.exe" in handle.read()
