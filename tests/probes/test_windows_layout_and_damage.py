"""The Windows bundle as users have it, built on Linux; and a damaged torch, never "CPU-only".

The Windows tree is the real shape of a GPT-SoVITS bundle: runtime\\python.exe, python311.dll /
python311._pth, and site-packages under `lib` spelled in lower case (as GPT-SoVITS' own tracebacks
spell it). It cannot run here, so everything must come from its files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from envdoctor.cli.main import main
from envdoctor.probes import torchfiles
from envdoctor.probes.runtime import find_runtime

REPO = Path(__file__).resolve().parents[2]
VERSION_PY = ("from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
              "__version__ = '{version}'\ndebug = False\ncuda: Optional[str] = {cuda}\n"
              "git_version = '0123456789abcdef'\nhip: Optional[str] = None\n")


def windows_bundle(root: Path, lib: str = "lib", marker: Optional[str] = "python311.dll",
                   version: str = "2.8.0+cu129", cuda: Optional[str] = "12.9") -> Path:
    runtime = root / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "python.exe").write_bytes(b"MZ\x90\x00")  # a PE stub: not runnable here, as on any Linux host
    if marker:
        (runtime / marker).write_bytes(b"MZ" if marker.endswith(".dll") else b"python311.zip\n.\n")
    site = runtime / lib / "site-packages"
    torch = site / "torch"
    (torch / "lib").mkdir(parents=True)
    (torch / "version.py").write_text(VERSION_PY.format(version=version, cuda=repr(cuda)), encoding="utf-8")
    (torch / "__init__.py").write_text("", encoding="utf-8")
    info = site / f"torch-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n", encoding="utf-8")
    return site


@pytest.mark.parametrize("lib", ["lib", "Lib", "LIB"])
@pytest.mark.parametrize("marker", ["python311.dll", "python311._pth", "PYTHON311.DLL"])
def test_site_packages_any_case_and_version_from_files(tmp_path: Path, lib: str, marker: str) -> None:
    site = windows_bundle(tmp_path, lib=lib, marker=marker)
    runtime = find_runtime(str(tmp_path))
    assert runtime.layout == "windows-embedded" and runtime.platform == "windows"
    assert runtime.site_packages == (str(site),)
    assert runtime.python_version == "3.11"
    torch = torchfiles.read_torch_build(runtime, torchfiles.read_distributions(runtime.site_packages))
    assert torch is not None and torch.version == "2.8.0+cu129" and torch.damage is None


def check_json(root: Path, capsys, monkeypatch, gpu: str = "NVIDIA GeForce RTX 4060@8.9",
               driver: str = "576.02@12.9") -> dict:
    monkeypatch.setenv("ENVDOCTOR_GPUS", gpu)
    monkeypatch.setenv("ENVDOCTOR_DRIVER", driver)
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    code = main(["check", "--root", str(root), "--json", "--no-live"])
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["exit_code"] == code
    return envelope


def test_lower_case_lib_is_not_torch_missing(tmp_path: Path, capsys, monkeypatch) -> None:
    """The issue's third reproduction: runtime\\lib\\site-packages said "torch is not installed" (exit 2)."""
    windows_bundle(tmp_path, lib="lib")
    envelope = check_json(tmp_path, capsys, monkeypatch)
    codes = {f["code"] for f in envelope["findings"]}
    assert "torch-not-installed" not in codes
    assert envelope["exit_code"] in (0, 1)


def test_no_site_packages_says_where_it_looked(tmp_path: Path, capsys, monkeypatch) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "python.exe").write_bytes(b"MZ")
    envelope = check_json(tmp_path, capsys, monkeypatch)
    finding = next(f for f in envelope["findings"] if f["code"] == "site-packages-not-found")
    assert str(runtime) in finding["title"] and finding["severity"] == "warning"
    assert envelope["exit_code"] == 1


# -- a damaged torch ----------------------------------------------------------------------------

HOSTILE = {
    "zeros": b"\0" * 4096,
    "nul-inside": b"__version__ = '2.6.0+cu124'\0\0\0cuda = '12.4'\n",
    "empty": b"",
    "nested-parens": b"x = " + b"(" * 200000 + b"\n",  # ast/compile on 3.9 recurse on this
    "nested-brackets-lines": b"[" * 100000 + b"\n__version__ = '2.6.0+cu124'\n",
    "binary-junk": bytes(range(256)) * 64,
    "huge": b"# " + b"x" * (200 * 1024) + b"\n__version__ = '2.6.0+cu124'\ncuda = '12.4'\n",
    "truncated": b"from typing import Optional\n__version__ = '2.6.0+cu124'\ndebug = False\ncu",
    "not-a-version": b"__version__ = 'DROP TABLE torch'\ncuda = None\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_version_py_is_damage_not_cpu_only(tmp_path: Path, capsys, monkeypatch, name: str) -> None:
    site = windows_bundle(tmp_path, version="2.6.0+cu124", cuda="12.4")
    (site / "torch" / "version.py").write_bytes(HOSTILE[name])
    runtime = find_runtime(str(tmp_path))
    torch = torchfiles.read_torch_build(runtime, torchfiles.read_distributions(runtime.site_packages))
    assert torch is not None and torch.damage
    assert torch.cuda == "12.4"  # recovered from the distribution's name, never guessed as CPU
    envelope = check_json(tmp_path, capsys, monkeypatch)
    codes = {f["code"] for f in envelope["findings"]}
    assert "torch-damaged" in codes and "cpu-only-torch" not in codes


def test_garbage_metadata_is_damage(tmp_path: Path, capsys, monkeypatch) -> None:
    site = windows_bundle(tmp_path, version="2.6.0+cu124", cuda="12.4")
    (site / "torch-2.6.0+cu124.dist-info" / "METADATA").write_bytes(os.urandom(3000) + b"\0")
    envelope = check_json(tmp_path, capsys, monkeypatch)
    damaged = next(f for f in envelope["findings"] if f["code"] == "torch-damaged")
    assert "METADATA" in damaged["params"]["damage"]


def test_missing_version_py_is_damage_not_missing_torch(tmp_path: Path, capsys, monkeypatch) -> None:
    site = windows_bundle(tmp_path, version="2.6.0+cu124", cuda="12.4")
    (site / "torch" / "version.py").unlink()
    codes = {f["code"] for f in check_json(tmp_path, capsys, monkeypatch)["findings"]}
    assert "torch-damaged" in codes and "torch-not-installed" not in codes


def test_hostile_files_on_python_39_and_310(tmp_path: Path) -> None:
    """The reader runs on the oldest Pythons envdoctor supports without crashing or recursing."""
    folder = tmp_path / "cases"
    folder.mkdir()
    for name, data in HOSTILE.items():
        (folder / name).write_bytes(data)
    script = (
        "import os, sys\n"
        "from envdoctor.probes import torchfiles\n"
        "for name in sorted(os.listdir(sys.argv[1])):\n"
        "    data, long = torchfiles.read_bounded(os.path.join(sys.argv[1], name), 65536)\n"
        "    values = torchfiles.parse_version_py(data.decode('utf-8', 'replace'))\n"
        "    print(name, torchfiles.version_py_damage(data, long, values) is not None)\n"
    )
    ran = 0
    for version in ("3.9", "3.10"):
        python = _pyenv_python(version)
        if python is None:
            continue
        result = subprocess.run([python, "-c", script, str(folder)], capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, PYTHONPATH=str(REPO)))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [w for name in sorted(HOSTILE) for w in (name, "True")]
        ran += 1
    if not ran:
        pytest.skip("no python3.9 or python3.10 on this machine")


def _pyenv_python(version: str) -> Optional[str]:
    import glob
    import shutil

    for candidate in [shutil.which(f"python{version}")] + sorted(
            glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}"))):
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None if sys.version_info[:2] != tuple(map(int, version.split("."))) else sys.executable
