"""The launcher block: environment for GPT-SoVITS and, optionally, a pre-launch `envdoctor check`.

One block per launcher, inserted just before the first line that starts `webui.py` (after the script
has set PATH and changed folder, before Python starts). `envdoctor check --launcher` (never waits on the
runtime's `import torch`: the files decide, live facts are refreshed in the background) exit codes: 0 ready,
1 warnings -> start; 2 will fail -> print the message and stop; 3 could not check -> start (a
check that cannot run is no reason to block the user).
"""

from __future__ import annotations

import os
import re
import shlex
from collections import OrderedDict
from typing import Dict, List, Optional

from envdoctor.gptsovits import blocks
from envdoctor.gptsovits.patches import SV_ENV
from envdoctor.gptsovits.settings import Settings

NAME = "launcher"
START_LINE = re.compile(r"webui\.py", re.IGNORECASE)


class NoStartLine(Exception):
    pass


def environment(settings: Settings) -> OrderedDict[str, str]:
    env: OrderedDict[str, str] = OrderedDict()
    if settings.fp16.value is not None:
        env["is_half"] = "True" if settings.fp16.value else "False"  # read with eval() upstream: Python literals
    if settings.sv.value in ("cpu", "off"):  # "on" is GPT-SoVITS's own behaviour: nothing to set
        env[SV_ENV] = settings.sv.value
    if settings.arch_list.value is not None:
        env["TORCH_CUDA_ARCH_LIST"] = settings.arch_list.value
    return env


def _bat_echo(text: str) -> str:
    return re.sub(r"([&|<>^])", r"^\1", text).replace("%", "%%")


RUNTIME_PYTHON_BAT = '"%~dp0runtime\\python.exe"'
# The interpreter copy envdoctor keeps outside runtime\ (envdoctor/process/relaunch.py): it still runs when an
# interrupted swap left no runtime\ (issue 28).
COPY_PYTHON_BAT = '"%~dp0.envdoctor\\python\\python.exe"'


def recover_lines(check: str, missing_message: str) -> List[str]:
    """A missing runtime\\python.exe (an upgrade or rollback interrupted between its two renames): run
    `recover` with the interpreter copy (or the user's own envdoctor command), else say what to do."""
    recover = check.replace(RUNTIME_PYTHON_BAT, COPY_PYTHON_BAT)
    return [
        'if exist "%~dp0runtime\\python.exe" goto envdoctor_check',
        f"echo {_bat_echo(missing_message)}",
        f'{recover} recover --root "%~dp0."',
        'if exist "%~dp0runtime\\python.exe" goto envdoctor_check',
        "pause",
        "exit /b 3",
        ":envdoctor_check",
    ]


def bat_body(env: Dict[str, str], check: Optional[str], stop_message: str, missing_message: str = "") -> List[str]:
    lines = [f'set "{key}={value}"' for key, value in env.items()]
    if check:
        # No `call` before the program: Wine's cmd reports ERRORLEVEL 1 after `call prog.exe` exits 2.
        lines += recover_lines(check, missing_message) if missing_message else []
        lines += [
            f'{check} check --launcher --root "%~dp0."',
            'if not "%ERRORLEVEL%"=="2" goto envdoctor_start',
            f"echo {_bat_echo(stop_message)}",
            "pause",
            "exit /b 2",
            ":envdoctor_start",
        ]
    return lines


def ps1_body(env: Dict[str, str], check: Optional[str], stop_message: str, missing_message: str = "") -> List[str]:
    lines = [f"$env:{key} = '{value}'" for key, value in env.items()]
    if check:
        quoted = stop_message.replace("'", "''")
        lines += [
            f'& {check} check --launcher --root "$PSScriptRoot"',
            "if ($LASTEXITCODE -eq 2) {",
            f"    Write-Host '{quoted}'",
            "    pause",
            "    exit 2",
            "}",
        ]
    return lines


def sh_body(env: Dict[str, str], check: Optional[str], stop_message: str, missing_message: str = "") -> List[str]:
    lines = [f"export {key}='{value}'" for key, value in env.items()]
    if check:
        quoted = stop_message.replace("'", "'\\''")
        lines += [
            # The script may have changed folder already (the one configure writes cds to its own).
            '_envdoctor_root="$(cd "$(dirname "$0")" 2>/dev/null && pwd || pwd)"',
            f'{check} check --launcher --root "$_envdoctor_root"',
            'if [ "$?" -eq 2 ]; then',
            f"    echo '{quoted}' >&2",
            "    exit 2",
            "fi",
        ]
    return lines


KINDS = {
    "go-webui.bat": ("REM", bat_body),
    "go-webui.ps1": ("#", ps1_body),
    "go-webui.sh": ("#", sh_body),
}


PYZ = "envdoctor.pyz"


def check_command(launcher: str, configured: str, root_has_pyz: bool, posix_python: Optional[str],
                  prefix: str = "envdoctor") -> str:
    """How LAUNCHER calls envdoctor: the user's command, else the bundle's zipapp run by the bundle's
    own Python (no install needed), else the way configure itself was started (PREFIX, e.g. `envdoctor`
    from PATH or `python3 -m envdoctor`)."""
    if configured != "auto":
        return quote_command(launcher, configured)
    if not root_has_pyz:
        return prefix
    if launcher == "go-webui.bat":
        return f'"%~dp0runtime\\python.exe" "%~dp0{PYZ}"'
    if launcher == "go-webui.ps1":
        return f'"$PSScriptRoot\\runtime\\python.exe" "$PSScriptRoot\\{PYZ}"'
    python = posix_python or "python3"
    return f'"$_envdoctor_root/{python}" "$_envdoctor_root/{PYZ}"'


class BadCheckCommand(ValueError):
    pass


def _command_words(configured: str) -> List[str]:
    """A path to one program ("C:\\My Tools\\envdoctor.exe", "/opt/my tools/envdoctor") is one word even
    with spaces; anything else is split like a shell would ("python3 -m envdoctor")."""

    if any(ch in configured for ch in "\r\n\0"):
        raise BadCheckCommand("a line break or NUL")
    if os.path.exists(configured) or (not any(q in configured for q in "'\"") and ("\\" in configured)):
        return [configured]
    try:
        words = shlex.split(configured)
    except ValueError as exc:
        raise BadCheckCommand(str(exc)) from exc
    if not words:
        raise BadCheckCommand("empty")
    return words


def quote_command(launcher: str, configured: str) -> str:
    """The user's --check-command, quoted for LAUNCHER's shell so that a path with spaces (or a
    shell's special characters) stays one word."""
    words = _command_words(configured)
    if launcher == "go-webui.bat":
        if any('"' in w for w in words):
            raise BadCheckCommand("a double quote cannot be written into a .bat command")
        return " ".join('"' + w.replace("%", "%%") + '"' for w in words)
    if launcher == "go-webui.ps1":
        return " ".join("'" + w.replace("'", "''") + "'" for w in words)

    return " ".join(shlex.quote(w) for w in words)


def new_sh_script(python: Optional[str], newline: str = "\n", prefix: str = "envdoctor") -> str:
    """A shell launcher for Linux checkouts/bundles that have none (created by configure, removed by revert)."""
    interpreter = python or "python3"
    return newline.join([
        "#!/bin/sh",
        f"# Starts the GPT-SoVITS WebUI. Written by envdoctor configure; {prefix} configure --revert removes it.",
        'cd "$(dirname "$0")" || exit 1',
        f'exec {interpreter} webui.py "$@"',
        "",
    ])


def apply(text: str, newline: str, launcher: str, body: Optional[List[str]], prefix: str = "envdoctor") -> str:
    """TEXT with the launcher block (BODY) before the line that starts webui.py; None or [] removes it."""
    base = blocks.strip(text, NAME)
    if not body:
        return base
    comment = KINDS[launcher][0]
    offset = 0
    for line in base.splitlines(keepends=True):
        stripped = line.strip()
        if START_LINE.search(line) and not stripped.upper().startswith(("REM", "#", "::")):
            lines = blocks.wrap(NAME, comment, body, prefix)
            return base[:offset] + newline.join(lines) + newline + base[offset:]
        offset += len(line)
    raise NoStartLine(launcher)


def read_environment(text: str) -> Dict[str, str]:
    """is_half / TORCH_CUDA_ARCH_LIST / ... that envdoctor's block in TEXT sets (for --show)."""
    body = blocks.body_of(text, NAME) or ""
    found: Dict[str, str] = {}
    for pattern in (r'^set "(\w+)=(.*)"\s*$', r"^\$env:(\w+) = '(.*)'\s*$", r"^export (\w+)='(.*)'\s*$"):
        for match in re.finditer(pattern, body, re.MULTILINE):
            found[match.group(1)] = match.group(2)
    return found
