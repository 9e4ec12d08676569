"""The Windows lane: envdoctor's zipapp run by a real Windows CPython (python.org's embeddable 3.11) under
Wine, the way a bundle user runs it: `runtime\\python.exe envdoctor.pyz ...` from `D:\\GPT-SoVITS`, through
`cmd /c` and `.bat` files, in an English (code page 1252) or a Chinese (code page 936) Windows.

The interpreter is never committed (it comes from public snapshots, see
shared/tools/windows-python/README.md); `ENVDOCTOR_WINPY` names the folder `setup.sh` assembled it in
(`build/winpython`, with `wine-env.sh` beside python.exe). Without it, or without `wine`, every test marked
`windows` is skipped with the reason (tests/conftest.py), as `gpu` tests are without a GPU.

What Wine cannot show stays behind the seams and is said so in docs/windows.md: Windows refusing to rename
the folder a running program comes from, NVML and the NVIDIA driver, a GPU, PowerShell.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
INTERPRETER_FILES = ("python.exe", "pythonw.exe", "python3.dll", "python311.dll", "python311.zip",
                     "vcruntime140.dll", "vcruntime140_1.dll", "libffi-8.dll", "libcrypto-1_1.dll",
                     "libssl-1_1.dll", "sqlite3.dll")
# Wine's ANSI code page follows LANG: en_US → 1252 (English Windows), zh_CN → 936 (GBK, Chinese Windows).
LOCALES = {"en": "en_US.UTF-8", "zh": "zh_CN.UTF-8"}


def why_unavailable() -> Optional[str]:
    """None when the lane can run here; else the reason every `windows` test is skipped."""
    folder = os.environ.get("ENVDOCTOR_WINPY")
    if not folder:
        return ("needs a Windows CPython under Wine: set ENVDOCTOR_WINPY to the folder setup.sh assembled "
                "(shared/tools/windows-python/README.md)")
    if not (Path(folder) / "python.exe").is_file():
        return f"ENVDOCTOR_WINPY={folder} holds no python.exe"
    if shutil.which("wine") is None:
        return "needs wine (Debian's wine64) on PATH"
    return None


def _prefix(python_dir: Path) -> Path:
    return Path(os.environ.get("ENVDOCTOR_WINEPREFIX") or python_dir.parent / "wineprefix")


@dataclass
class Completed:
    """What a Windows command gave back: its exit code and its raw bytes (decoded by the test, which knows
    the encoding it expects)."""
    returncode: int
    stdout: bytes
    stderr: bytes

    def out(self, encoding: str = "utf-8") -> str:
        return self.stdout.decode(encoding, errors="replace")

    def err(self, encoding: str = "utf-8") -> str:
        return self.stderr.decode(encoding, errors="replace")


@dataclass
class Lane:
    python_dir: Path
    prefix: Path
    locale_dir: Optional[Path] = None
    drives: Dict[str, Path] = field(default_factory=dict)

    def environ(self, lang: str = "en", extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ENVDOCTOR_", "PYTHON", "LC_", "PIP_")) and k not in ("LANG", "LANGUAGE")}
        env.update(WINEPREFIX=str(self.prefix), WINEDEBUG="-all", KMP_AFFINITY="disabled",
                   LANG=LOCALES[lang], LC_ALL=LOCALES[lang])
        if self.locale_dir is not None:
            env["LOCPATH"] = str(self.locale_dir)
        env.update(extra or {})
        return env

    # -- drives ------------------------------------------------------------------------------------------
    def map_drive(self, target: Path, preferred: str = "d") -> str:
        """Map a free drive letter (PREFERRED first) to TARGET for this session, as `D:` holds a user's
        bundle. A letter is claimed by creating its dosdevices link (atomic); a link left by a dead
        session (its target gone) is taken over."""
        dosdevices = self.prefix / "dosdevices"
        letters = [preferred] + [c for c in "defghijklmnopqrstuvwxy" if c != preferred]
        for letter in letters:
            link = dosdevices / f"{letter}:"
            if link.is_symlink() and not link.exists():
                link.unlink()
            try:
                link.symlink_to(target)
            except FileExistsError:
                continue
            self.drives[letter] = link
            return letter.upper()
        raise RuntimeError("no free drive letter in the Wine prefix")

    def release_drives(self) -> None:
        for link in self.drives.values():
            if link.is_symlink():
                link.unlink()
        self.drives.clear()

    # -- running -----------------------------------------------------------------------------------------
    def _run(self, argv: Sequence[str], lang: str, env: Optional[Dict[str, str]], cwd: Path,
             timeout: float, stdin: bytes) -> Completed:
        # Wine 8: all three standard streams must be pipes (a regular file is an "Invalid handle").
        done = subprocess.run(["wine", *argv], input=stdin, capture_output=True,
                              env=self.environ(lang, env), cwd=str(cwd), timeout=timeout)
        return Completed(done.returncode, done.stdout, done.stderr)

    def cmd(self, script: str, folder: Path, cwd: Path, lang: str = "en", env: Optional[Dict[str, str]] = None,
            timeout: float = 180, stdin: bytes = b"", name: str = "lane.bat") -> Completed:
        """Run SCRIPT (cmd.exe lines, `\\n`-separated) as a .bat file written into FOLDER (a Linux path that
        lies on a mapped drive), through `cmd /c`, as a double-click or a launcher would, in the console's
        current folder CWD (Wine names it through the mapped drive: `D:\\...`, Chinese names included;
        a .bat in code page 1252 could not even spell them)."""
        bat = folder / name
        encoding = "gbk" if lang == "zh" else "cp1252"
        bat.write_bytes(("@echo off\r\n" + script.replace("\n", "\r\n") + "\r\n").encode(encoding))
        return self._run(["cmd", "/c", self.windows_path(bat)], lang, env, cwd, timeout, stdin)

    def bat(self, bat: Path, cwd: Path, lang: str = "en", env: Optional[Dict[str, str]] = None,
            timeout: float = 180, stdin: bytes = b"") -> Completed:
        """The .bat file BAT run as a double-click does (`cmd /c BAT`): its exit code is the one it exits with
        (a `call` of it from another .bat reads 1 after `exit /b 2` under Wine 8's cmd)."""
        return self._run(["cmd", "/c", self.windows_path(bat)], lang, env, cwd, timeout, stdin)

    def python(self, exe: Path, args: Sequence[str], cwd: Path, lang: str = "en",
               env: Optional[Dict[str, str]] = None, timeout: float = 180, stdin: bytes = b"") -> Completed:
        """Run the Windows interpreter EXE directly (no cmd), with CWD as its current folder."""
        return self._run([self.windows_path(exe), *args], lang, env, cwd, timeout, stdin)

    def windows_path(self, path: Path) -> str:
        """PATH as the Windows side names it: through a mapped drive where one holds it, else Z:."""
        resolved = path.resolve()
        for letter, link in self.drives.items():
            root = link.resolve()
            if resolved == root or root in resolved.parents:
                rest = resolved.relative_to(root)
                return f"{letter.upper()}:\\" + "\\".join(rest.parts)
        return "Z:" + str(resolved).replace("/", "\\")


def start(python_dir: Path, scratch: Path) -> Lane:
    """The lane for this session: a running wineserver and, for Chinese runs, a compiled zh_CN locale."""
    prefix = _prefix(python_dir)
    env = {**os.environ, "WINEPREFIX": str(prefix), "WINEDEBUG": "-all"}
    # A persistent wineserver and Wine's services, detached: else the first `wine ... | cat` can hang
    # because services.exe inherits the test's pipes.
    for argv in (["wineserver", "-p"], ["wine", "wineboot"]):
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120, start_new_session=True)
    # Wine converts file names with the Unix locale's charset: without a compiled UTF-8 locale a Chinese
    # folder name fails silently, so both lane locales are compiled where the system lacks them.
    locale_dir = None
    available = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower()
    missing = [name for name in LOCALES.values() if name.lower().replace("-", "") not in available]
    if missing and shutil.which("localedef"):
        locale_dir = scratch / "locale"
        locale_dir.mkdir(parents=True, exist_ok=True)
        for name in missing:
            language = name.split(".")[0]
            subprocess.run(["localedef", "-i", language, "-f", "UTF-8", str(locale_dir / name)],
                           capture_output=True, timeout=120)
    return Lane(python_dir, prefix, locale_dir)


def build_pyz(target: Path) -> Path:
    subprocess.run([sys.executable, str(REPO / "tools" / "build_pyz.py"), "--from-installed", "-o", str(target)],
                   check=True, capture_output=True)
    return target


PTH = "python311.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n"


def install_interpreter(lane: Lane, runtime: Path) -> None:
    """Make RUNTIME a real Windows runtime: the embeddable interpreter, its DLLs and extension modules,
    and a ._pth that adds `Lib\\site-packages` as the GPT-SoVITS bundles' runtime does."""
    runtime.mkdir(parents=True, exist_ok=True)
    for stale in runtime.glob("python3*.dll"):
        stale.unlink()
    for item in lane.python_dir.iterdir():
        if item.is_file() and (item.name in INTERPRETER_FILES or item.suffix == ".pyd"):
            shutil.copy2(item, runtime / item.name)
    (runtime / "python311._pth").write_bytes(PTH.encode("ascii"))
    (runtime / "Lib" / "site-packages").mkdir(parents=True, exist_ok=True)


def install_pip(runtime: Path) -> None:
    """pip in the Windows runtime: pip is pure Python, so this machine's copy serves (no download)."""
    import pip

    source = Path(pip.__file__).resolve().parent
    site = runtime / "Lib" / "site-packages"
    shutil.copytree(source, site / "pip", ignore=shutil.ignore_patterns("__pycache__"))
    for info in source.parent.glob("pip-*.dist-info"):
        shutil.copytree(info, site / info.name)


def lines(text: str) -> List[str]:
    return [line.rstrip("\r") for line in text.split("\n")]
