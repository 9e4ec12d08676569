"""Runtime discovery and torch facts read from files, on real venvs and bundle-shaped trees."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from envdoctor.demo import SCENARIOS, write_bundle
from envdoctor.errors import ProbeError, UsageError
from envdoctor.fileio.jsoncache import JsonCache
from envdoctor.probes import torchfiles
from envdoctor.probes.runtime import find_runtime
from tests.support.fake_torch import FakeTorch, make_runtime, site_packages


def test_windows_bundle_layout_is_found_from_the_gpt_sovits_root(tmp_path: Path) -> None:
    write_bundle(str(tmp_path), SCENARIOS["rtx5060ti-cu124"])
    runtime = find_runtime(str(tmp_path))
    assert runtime.layout == "windows-embedded"
    assert runtime.platform == "windows"
    assert runtime.python_version == "3.11"  # from python311.dll
    assert runtime.python.endswith("python.exe")
    assert runtime.site_packages == (str(tmp_path / "runtime" / "Lib" / "site-packages"),)


def test_windows_bundle_torch_read_without_running_anything(tmp_path: Path) -> None:
    write_bundle(str(tmp_path), SCENARIOS["rtx5060ti-cu124"])
    runtime = find_runtime(str(tmp_path))
    dists = torchfiles.read_distributions(runtime.site_packages)
    torch = torchfiles.read_torch_build(runtime, dists)
    assert (torch.version, torch.release, torch.local, torch.cuda) == ("2.6.0+cu124", "2.6.0", "cu124", "12.4")
    assert {d.name: d.version for d in dists}["torchaudio"] == "2.6.0+cu124"


def test_posix_venv_layout_and_python_flag(tmp_path: Path) -> None:
    python = make_runtime(tmp_path / "runtime", FakeTorch(version="2.7.0+cu128", cuda="12.8"))
    by_root = find_runtime(str(tmp_path))
    by_python = find_runtime(python=str(python))
    assert by_root.layout == by_python.layout == "posix-prefix"
    assert by_root.site_packages == by_python.site_packages == (str(site_packages(tmp_path / "runtime")),)
    assert by_root.python_version == ".".join(map(str, sys.version_info[:3]))  # pyvenv.cfg
    torch = torchfiles.read_torch_build(by_root, torchfiles.read_distributions(by_root.site_packages))
    assert torch.cuda == "12.8" and torch.local == "cu128"


def test_cpu_build_has_no_cuda(tmp_path: Path) -> None:
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.6.0+cpu", cuda=None))
    runtime = find_runtime(str(tmp_path))
    torch = torchfiles.read_torch_build(runtime, ())
    assert torch.local == "cpu" and torch.cuda is None and not torch.is_cuda


def test_interpreter_without_prefix_layout_is_asked_and_cached(tmp_path: Path) -> None:
    # The running interpreter of a system install (no venv layout next to it): it must be asked.
    link = tmp_path / "somewhere" / "python-x"
    link.parent.mkdir()
    os.symlink(sys.executable, link)
    cache = JsonCache(tmp_path / "cache", "facts")
    runtime = find_runtime(python=str(link), cache=cache)
    assert runtime.layout == "interpreter"
    assert runtime.python_version == ".".join(map(str, sys.version_info[:3]))
    assert any(p.endswith("site-packages") for p in runtime.site_packages)
    assert list((tmp_path / "cache").iterdir())  # the answer was cached


def test_missing_root_and_missing_runtime_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as missing:
        find_runtime(str(tmp_path / "nope"))
    assert missing.value.key == "error.root_not_found"
    with pytest.raises(UsageError) as empty:
        find_runtime(str(tmp_path))
    assert empty.value.key == "error.no_runtime"


def test_a_python_flag_that_is_not_python_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "notpython"
    fake.write_text("#!/bin/sh\necho not a python >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(ProbeError) as error:
        find_runtime(python=str(fake))
    assert error.value.key == "error.not_python"
    text_file = tmp_path / "readme.txt"
    text_file.write_text("hello")
    with pytest.raises(ProbeError):
        find_runtime(python=str(text_file))


def test_version_py_is_parsed_not_executed(tmp_path: Path) -> None:
    values = torchfiles.parse_version_py(
        "import os\nos.system('touch /tmp/pwned')\n__version__ = '2.5.1+cu121'\ncuda: Optional[str] = '12.1'\n"
        "hip = None\n"
    )
    assert values == {"__version__": "2.5.1+cu121", "cuda": "12.1", "hip": None}


def test_cudnn_version_from_windows_dll_name(tmp_path: Path) -> None:
    lib = tmp_path / "torch" / "lib"
    lib.mkdir(parents=True)
    (lib / "cudnn64_9.dll").write_bytes(b"MZ")
    assert torchfiles._cudnn_version(str(tmp_path / "torch"), ()) == "9"
