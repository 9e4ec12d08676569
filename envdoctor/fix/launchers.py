"""fix-env.bat / fix-env.ps1: the one file a Windows bundle user double-clicks to run `envdoctor fix`.

They sit beside go-webui.bat and envdoctor.pyz and use the bundle's own Python, like the launchers.
"""

from __future__ import annotations

import os
from typing import Dict, List

from envdoctor.fileio.atomicfile import atomic_write

# Batch files are read in the console's code page; ASCII-only lines run everywhere. The Chinese line is
# in the .ps1 (UTF-8 with BOM, which Windows PowerShell needs to read non-ASCII text).
FIX_BAT = (
    "@echo off\r\n"
    "rem envdoctor fix: diagnose this GPT-SoVITS bundle and repair it step by step.\r\n"
    "cd /d \"%~dp0\"\r\n"
    # An upgrade or rollback interrupted between its two renames leaves no runtime\: recover it with the
    # interpreter copy envdoctor keeps outside runtime\ (envdoctor/process/relaunch.py), else say what to do.
    "if exist runtime\\python.exe goto envdoctor_fix\r\n"
    "echo envdoctor: runtime\\python.exe is missing: an upgrade or rollback was interrupted. Running envdoctor"
    " recover to put it back.\r\n"
    "if exist .envdoctor\\python\\python.exe .envdoctor\\python\\python.exe envdoctor.pyz recover\r\n"
    "if exist runtime\\python.exe goto envdoctor_fix\r\n"
    "echo Could not restore runtime\\. Run py -3 envdoctor.pyz recover in this folder (any Python 3.9 or newer).\r\n"
    "pause\r\n"
    "exit /b 3\r\n"
    ":envdoctor_fix\r\n"
    "runtime\\python.exe envdoctor.pyz fix %*\r\n"
    "pause\r\n"
)
FIX_PS1 = (
    "# envdoctor fix: diagnose this GPT-SoVITS bundle and repair it step by step.\r\n"
    "# envdoctor fix：诊断并一步步修复这个 GPT-SoVITS 整合包。\r\n"
    "Set-Location -LiteralPath $PSScriptRoot\r\n"
    "& \"$PSScriptRoot\\runtime\\python.exe\" \"$PSScriptRoot\\envdoctor.pyz\" fix @args\r\n"
    "Read-Host \"Press Enter to close / 按回车键关闭\"\r\n"
)


def launcher_files() -> Dict[str, bytes]:
    return {"fix-env.bat": FIX_BAT.encode("ascii"), "fix-env.ps1": b"\xef\xbb\xbf" + FIX_PS1.encode("utf-8")}


def write_launchers(folder: str, overwrite: bool = False) -> List[str]:
    """Write the two files into folder; an existing one is kept unless overwrite. Returns those written."""
    written = []
    for name, data in launcher_files().items():
        path = os.path.join(folder, name)
        if os.path.lexists(path) and not overwrite:
            continue
        atomic_write(path, data)
        written.append(path)
    return written
