"""Fixtures of the Windows lane (see lane.py): one Wine session, one zipapp, a `D:` drive, and
Windows-shaped GPT-SoVITS bundles on it with a real Windows interpreter in `runtime\\`."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from envdoctor.demo import SCENARIOS, demo_environ, write_app, write_bundle
from tests.windows import lane as wl

# The memo's machine, as the what-if variables describe it (no NVML under Wine).
MEMO_GPU = demo_environ(SCENARIOS["rtx5060ti-v2pro"])
GBK_BAT = ("REM 启动 GPT-SoVITS 整合包\r\nset \"PATH=%~dp0runtime;%PATH%\"\r\n"
           "runtime\\python.exe -I webui.py zh_CN\r\npause\r\n").encode("gbk")


@pytest.fixture(scope="session")
def lane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[wl.Lane]:
    reason = wl.why_unavailable()
    if reason:
        pytest.skip(reason)
    started = wl.start(Path(os.environ["ENVDOCTOR_WINPY"]), tmp_path_factory.mktemp("wine"))
    yield started
    started.release_drives()


@pytest.fixture(scope="session")
def drive(lane: wl.Lane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that the Windows side sees as a drive of its own (D: where free), as bundles live on D:/E:."""
    root = tmp_path_factory.mktemp("drive")
    lane.map_drive(root, "d")
    return root


@pytest.fixture(scope="session")
def other_drive(lane: wl.Lane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second drive (E: where free): a fix pack or wheelhouse the user keeps elsewhere."""
    root = tmp_path_factory.mktemp("drive-e")
    lane.map_drive(root, "e")
    return root


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wl.build_pyz(tmp_path_factory.mktemp("pyz") / "envdoctor.pyz")


_cases = itertools.count(1)


@dataclass
class WinBundle:
    """A GPT-SoVITS bundle on the lane's drive: ROOT on the Linux side, WIN as the user's Windows sees it."""
    lane: wl.Lane
    root: Path
    cache: str
    env: Dict[str, str] = field(default_factory=dict)

    @property
    def win(self) -> str:
        return self.lane.windows_path(self.root)

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    def run(self, line: str, lang: str = "en", env: Optional[Dict[str, str]] = None, timeout: float = 180,
            stdin: bytes = b"") -> wl.Completed:
        """LINE typed in a console opened in the bundle folder (cmd.exe), e.g.
        `runtime\\python.exe envdoctor.pyz check`; its exit code as the console's ERRORLEVEL."""
        script = f"{line}\nexit /b %ERRORLEVEL%"
        merged = {"ENVDOCTOR_CACHE_DIR": self.cache, **self.env, **(env or {})}
        return self.lane.cmd(script, self.root.parent, self.root, lang=lang, env=merged, timeout=timeout,
                             stdin=stdin, name=f"lane-{os.getpid()}.bat")

    def python(self, *args: str, lang: str = "en", env: Optional[Dict[str, str]] = None,
               timeout: float = 180) -> wl.Completed:
        """runtime\\python.exe started directly (no console), its current folder the bundle."""
        merged = {"ENVDOCTOR_CACHE_DIR": self.cache, **self.env, **(env or {})}
        return self.lane.python(self.runtime / "python.exe", args, self.root, lang=lang, env=merged,
                                timeout=timeout)


@pytest.fixture
def make_bundle(lane: wl.Lane, drive: Path, pyz: Path):
    """make_bundle(name="GPT-SoVITS", scenario="rtx5060ti-v2pro", app=True): a fresh bundle at
    D:\\case-N\\NAME with the real interpreter in runtime\\, envdoctor.pyz beside go-webui.bat (GBK, CRLF)
    and the memo's GPU simulated."""
    cache = lane.windows_path(drive).rstrip("\\") + "\\cache"  # one pyz unpack for the session

    def make(name: str = "GPT-SoVITS", scenario: str = "rtx5060ti-v2pro", app: bool = True) -> WinBundle:
        root = drive / f"case-{next(_cases)}" / name
        write_bundle(str(root), SCENARIOS[scenario])
        if app:
            write_app(str(root))
        (root / "go-webui.bat").write_bytes(GBK_BAT)
        wl.install_interpreter(lane, root / "runtime")
        (root / "envdoctor.pyz").write_bytes(pyz.read_bytes())
        return WinBundle(lane, root, cache, dict(MEMO_GPU))

    return make
