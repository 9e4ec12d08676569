"""Real wheels for a Windows runtime in the lane: torch/torchaudio built here with real metadata and
Windows tags (the upgrade tests' builder), installed into runtime\\Lib\\site-packages by this machine's
pip (--target, --platform win_amd64), so pip in the Windows runtime can uninstall them (a RECORD)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

from tests.upgrade.upgrade_helpers import ARCHS_NEW, ARCHS_OLD, audio_files, build_wheel, torch_files

TAG = "cp311-cp311-win_amd64"


def torch_pair(folder: Path, version: str, variant: str, cuda: str, new_archs: bool) -> List[Path]:
    full = f"{version}+{variant}"
    archs = ARCHS_NEW if new_archs else ARCHS_OLD
    return [Path(build_wheel(str(folder), "torch", full, torch_files(full, cuda, archs), tag=TAG)),
            Path(build_wheel(str(folder), "torchaudio", full, audio_files(full), [f"torch=={version}"], tag=TAG))]


def install_old_torch(runtime: Path, scratch: Path) -> None:
    """The bundle's torch 2.4.1+cu118 as pip installs it (RECORD, INSTALLER), in place of the demo's files."""
    site = runtime / "Lib" / "site-packages"
    for item in list(site.iterdir()):
        if item.name.startswith(("torch", "torchaudio")):
            shutil.rmtree(item)
    wheels = torch_pair(scratch, "2.4.1", "cu118", "11.8", new_archs=False)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(site), "--platform", "win_amd64", "--python-version", "3.11", "--only-binary=:all:",
                    "--disable-pip-version-check", *map(str, wheels)], check=True, capture_output=True)
