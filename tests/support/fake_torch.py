"""Builds real Python environments whose `torch` is a small stand-in with real metadata.

The environments are real venvs (the real interpreter, real site-packages, real dist-info); only
torch's behaviour is scripted, through torch/_fake.json: which version, CUDA, arch list and GPUs it
reports, and whether `import torch` works, raises, aborts the process or hangs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

TORCH_INIT = r'''
"""Stand-in torch for envdoctor's tests: answers from _fake.json next to this file."""
import json as _json
import os as _os
import sys as _sys
import time as _time

with open(_os.path.join(_os.path.dirname(__file__), "_fake.json"), encoding="utf-8") as _f:
    _FAKE = _json.load(_f)

_behaviour = _FAKE.get("behaviour", "ok")
if _behaviour == "raise":
    raise OSError(_FAKE.get("message", "[WinError 126] The specified module could not be found"))
if _behaviour == "abort":
    _sys.stderr.write(_FAKE.get("message", "") + "\n")
    _sys.stderr.flush()
    _os.abort()
if _behaviour == "hang":
    _time.sleep(3600)

from torch import version  # noqa: E402  (the real torch/version.py file written beside this one)

__version__ = version.__version__


class _C:
    @staticmethod
    def _cuda_getArchFlags():
        return " ".join(_FAKE.get("arch_list", [])) or None


class cuda:
    @staticmethod
    def is_available():
        return bool(_FAKE.get("available", False))

    @staticmethod
    def get_arch_list():
        return list(_FAKE.get("arch_list", [])) if cuda.is_available() else []

    @staticmethod
    def device_count():
        return len(_FAKE.get("devices", [])) if cuda.is_available() else 0

    @staticmethod
    def get_device_capability(index=0):
        major, minor = _FAKE["devices"][index]["cc"].split(".")
        return int(major), int(minor)

    @staticmethod
    def get_device_name(index=0):
        return _FAKE["devices"][index]["name"]
'''


@dataclass
class FakeTorch:
    version: str = "2.6.0+cu124"
    cuda: Optional[str] = "12.4"
    arch_list: List[str] = field(default_factory=lambda: ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86",
                                                          "sm_90"])
    available: bool = True
    devices: List[dict] = field(default_factory=list)
    behaviour: str = "ok"  # ok | raise | abort | hang
    message: str = ""
    torchaudio: Optional[str] = None  # e.g. "2.6.0+cu124"


def make_venv(path: Path) -> Path:
    """A real venv without pip (fast); returns its interpreter."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return venv_python(path)


def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python3")


def site_packages(path: Path) -> Path:
    if os.name == "nt":
        return path / "Lib" / "site-packages"
    return next((path / "lib").glob("python3.*/site-packages"))


def write_dist_info(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (info / "INSTALLER").write_text("envdoctor-tests\n", encoding="utf-8")


def install_fake_torch(site: Path, fake: FakeTorch) -> Path:
    torch_dir = site / "torch"
    (torch_dir / "lib").mkdir(parents=True, exist_ok=True)
    cuda_value = repr(fake.cuda)
    (torch_dir / "version.py").write_text(
        "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
        f"__version__ = '{fake.version}'\ndebug = False\ncuda: Optional[str] = {cuda_value}\n"
        "git_version = '0123456789abcdef'\nhip: Optional[str] = None\n",
        encoding="utf-8",
    )
    (torch_dir / "__init__.py").write_text(TORCH_INIT, encoding="utf-8")
    (torch_dir / "_fake.json").write_text(json.dumps({
        "arch_list": fake.arch_list, "available": fake.available, "devices": fake.devices,
        "behaviour": fake.behaviour, "message": fake.message,
    }), encoding="utf-8")
    write_dist_info(site, "torch", fake.version)
    if fake.torchaudio:
        (site / "torchaudio").mkdir(exist_ok=True)
        (site / "torchaudio" / "__init__.py").write_text(f"__version__ = '{fake.torchaudio}'\n", encoding="utf-8")
        write_dist_info(site, "torchaudio", fake.torchaudio)
    return torch_dir


def make_runtime(path: Path, fake: Optional[FakeTorch]) -> Path:
    """A venv at path with the fake torch installed; returns the interpreter."""
    python = make_venv(path)
    if fake is not None:
        install_fake_torch(site_packages(path), fake)
    return python
