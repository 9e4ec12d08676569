"""Windows-only hazards, driven on Linux through their seams (envdoctor/upgrade/windows.py)."""

from __future__ import annotations

import io
import json
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


def test_an_upgrade_run_by_the_runtimes_own_python_is_refused_before_it_starts():
    """Windows cannot rename runtime\\ while runtime\\python.exe runs envdoctor: said in the preflight, with the
    way out, instead of failing at the swap after the download and the verification."""
    from envdoctor.i18n import message
    from envdoctor.upgrade.preflight import self_in_runtime

    note = self_in_runtime(r"d:\ai\gpt-sovits-v2pro-20250604\RUNTIME\python.exe", RUNTIME, "windows")
    assert note is not None and note.key == "self_in_runtime"
    for lang in ("en", "zh_CN"):
        assert "py -3 envdoctor.pyz upgrade" in message(lang, "upgrade.blocker.self_in_runtime", **note.params)
    assert self_in_runtime(r"C:\Python312\python.exe", RUNTIME, "windows") is None  # another Python: fine
    assert self_in_runtime(RUNTIME + r"-old\python.exe", RUNTIME, "windows") is None  # a sibling folder
    assert self_in_runtime("/gsv/runtime/bin/python", "/gsv/runtime", "linux") is None  # Linux renames fine


def test_the_fix_that_started_an_upgrade_is_not_a_user_of_the_runtime(tmp_path, monkeypatch):
    """`runtime/bin/python envdoctor.pyz fix` runs `upgrade` as its child: the fix itself, running from the
    runtime, must not make the swap refuse; any other process from there still does."""
    import subprocess
    import sys

    from envdoctor.upgrade.swap import processes_using

    runtime = tmp_path / "runtime"
    (runtime / "bin").mkdir(parents=True)
    python = runtime / "bin" / "python"
    os.symlink(sys.executable, python)
    # The parent stands for fix, run by the runtime's interpreter; its child (upgrade) asks who uses the runtime.
    parent = tmp_path / "fix.py"
    parent.write_text(
        "import json, os, subprocess, sys\n"
        "env = dict(os.environ, ENVDOCTOR_PARENT_PID=str(os.getpid()))\n"
        "probe = 'import json, sys; from envdoctor.upgrade.swap import processes_using; "
        "print(json.dumps(processes_using(sys.argv[1])))'\n"
        "sys.exit(subprocess.run([sys.executable, '-c', probe, sys.argv[1]], env=env).returncode)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    said = subprocess.run([str(python), str(parent), str(runtime)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout) == []
    webui = subprocess.Popen([str(python), "-c", "import time; time.sleep(60)"])
    try:
        for _ in range(100):
            if processes_using(str(runtime)):
                break
        assert any(u.startswith(f"{webui.pid} ") for u in processes_using(str(runtime)))
    finally:
        webui.kill()
        webui.wait()
