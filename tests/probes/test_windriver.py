"""The Windows driver fingerprint, run on Linux: Windows paths (ntpath) are mapped onto a real folder
tree standing in for C:\\, so stamps, file ids and folder listings are those of real files. It must
change on every driver install (even of the same version), on a new GPU, and on nothing else."""

from __future__ import annotations

import ntpath
import os
import shutil
from pathlib import Path
from typing import List

import pytest

from envdoctor.probes import fingerprint
from envdoctor.probes.windriver import registry_adapters, windows_driver_fingerprint

ENVIRON = {"SystemRoot": "C:\\Windows"}
ADAPTER_5060 = ("0000 DriverDesc=NVIDIA GeForce RTX 5060 Ti DriverVersion=32.0.15.7602 DriverDate=4-10-2025 "
                "MatchingDeviceId=PCI\\VEN_10DE&DEV_2D04 ProviderName=NVIDIA")


class WindowsDisk:
    """Maps 'C:\\Windows\\...' onto tmp/C/Windows/... (the OS seam; the files are real)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.adapter_keys: List[str] = [ADAPTER_5060]

    def local(self, path: str) -> str:
        drive, rest = ntpath.splitdrive(path)
        return os.path.join(str(self.base), drive.rstrip(":"), *[p for p in rest.split("\\") if p])

    def stat(self, path: str) -> os.stat_result:
        return os.stat(self.local(path))

    def listdir(self, path: str) -> List[str]:
        return os.listdir(self.local(path))

    def write(self, path: str, data: bytes = b"MZ") -> None:
        local = Path(self.local(path))
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)

    def fingerprint(self, environ=ENVIRON):
        keys = None if self.adapter_keys is None else list(self.adapter_keys)
        return windows_driver_fingerprint(environ, stat=self.stat, listdir=self.listdir, adapters=lambda: keys)

    def install_driver(self, store_folder: str, dll_bytes: bytes = b"MZ driver") -> None:
        """What the installer does: a DriverStore folder, and System32's DLLs copied from it (new files)."""
        store = f"C:\\Windows\\System32\\DriverStore\\FileRepository\\{store_folder}"
        for name in ("nvml.dll", "nvcuda.dll"):
            self.write(f"{store}\\{name}", dll_bytes)
            target = self.local(f"C:\\Windows\\System32\\{name}")
            replacement = target + ".new"
            shutil.copyfile(self.local(f"{store}\\{name}"), replacement)
            os.replace(replacement, target)  # a new file where the old one was: new file id


@pytest.fixture
def disk(tmp_path: Path) -> WindowsDisk:
    disk = WindowsDisk(tmp_path)
    disk.write("C:\\Windows\\System32\\kernel32.dll")
    disk.install_driver("nv_dispi.inf_amd64_1a2b3c4d5e6f7a8b")
    return disk


def test_an_unchanged_machine_has_a_steady_fingerprint(disk: WindowsDisk) -> None:
    first = disk.fingerprint()
    assert first is not None and first == disk.fingerprint()
    assert "nv_dispi.inf_amd64_1a2b3c4d5e6f7a8b" in first and "RTX 5060 Ti" in first
    disk.write("C:\\Windows\\System32\\unrelated.dll")  # Windows updates touch System32 all the time
    disk.write("C:\\Windows\\System32\\DriverStore\\FileRepository\\intcaudio.inf_amd64_00\\x.sys")
    assert disk.fingerprint() == first


def test_a_new_driver_version_changes_it(disk: WindowsDisk) -> None:
    before = disk.fingerprint()
    disk.install_driver("nv_dispi.inf_amd64_99aa88bb77cc66dd", dll_bytes=b"MZ newer driver")
    disk.adapter_keys = [ADAPTER_5060.replace("32.0.15.7602", "32.0.15.8097")]
    assert disk.fingerprint() != before


def test_reinstalling_the_same_driver_changes_it(disk: WindowsDisk) -> None:
    # Same version, same bytes, same DriverStore folder name: only the files are new. A repair install
    # is what a user does after a broken update, so it must not replay the broken state's answer.
    before = disk.fingerprint()
    disk.install_driver("nv_dispi.inf_amd64_1a2b3c4d5e6f7a8b")
    assert disk.fingerprint() != before


def test_each_part_alone_changes_it(disk: WindowsDisk) -> None:
    before = disk.fingerprint()
    disk.write("C:\\Windows\\System32\\DriverStore\\FileRepository\\nvmdi.inf_amd64_0011223344556677\\a.dll")
    with_store = disk.fingerprint()
    assert with_store != before
    disk.adapter_keys.append(ADAPTER_5060.replace("0000", "0001").replace("5060 Ti", "4060"))  # a second GPU
    assert disk.fingerprint() != with_store


def test_no_driver_or_no_adapter_keys_means_no_fingerprint(disk: WindowsDisk, tmp_path: Path) -> None:
    assert WindowsDisk(tmp_path / "empty").fingerprint() is None  # no nvml.dll, no nvcuda.dll
    disk.adapter_keys = None  # type: ignore[assignment]  (the registry could not be read)
    assert disk.fingerprint() is None


def test_system_root_comes_from_the_environment(tmp_path: Path) -> None:
    disk = WindowsDisk(tmp_path)
    disk.write("D:\\Win\\System32\\nvcuda.dll")
    assert disk.fingerprint() is None  # C:\Windows holds nothing
    found = disk.fingerprint({"SystemRoot": "D:\\Win"})
    assert found is not None and "nvcuda.dll" in found and "nvml.dll missing" in found
    assert "store unreadable" in found  # no DriverStore: the DLLs and adapter keys still count


def test_off_windows_the_registry_reader_answers_none() -> None:
    assert registry_adapters() is None  # no winreg here: the fingerprint is None rather than a guess


def test_the_fingerprint_dispatches_on_the_platform(disk: WindowsDisk, monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.probes import windriver

    seen = {}
    monkeypatch.setattr(windriver, "windows_driver_fingerprint", lambda environ: seen.setdefault("env", environ))
    fingerprint.driver_fingerprint(platform="win32", environ=ENVIRON)
    assert seen["env"] is ENVIRON
    assert fingerprint.driver_fingerprint(str(disk.base), platform="linux") is None  # no /proc tree there
