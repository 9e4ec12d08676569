"""A check never answers from a stale replay: every environment variable envdoctor's code reads is
declared in envdoctor.probes.inputs, and the replay key holds every declared variable.

The seam: os.environ is replaced by a mapping that records who reads what; whole checks run through
it (a GPT-SoVITS tree with the live probe, and GPU detection without the override), and every read
made by envdoctor's own code must be declared. A new probe that reads a variable without declaring
it fails here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Set, Tuple

import pytest

import envdoctor
import envdoctor.check.replay as replay
from envdoctor.cli.main import main
from envdoctor.probes import inputs
from tests.gptsovits.trees import make_tree
from tests.support.fake_torch import FakeTorch, make_runtime

PACKAGE = os.path.dirname(os.path.abspath(envdoctor.__file__)) + os.sep
KEY_BUILDERS = {os.path.join(PACKAGE, "check", "replay.py"), os.path.join(PACKAGE, "probes", "inputs.py")}
PASSES_ON = {os.path.join(PACKAGE, "probes", f"{probe}.py") for probe in inputs.PASSES_ENVIRONMENT_ON}


class RecordingEnviron(dict):
    """os.environ that remembers which of envdoctor's files read which variable, or copied it all."""

    def __init__(self, base) -> None:
        super().__init__(base)
        self.reads: Set[Tuple[str, str]] = set()
        self.copies: Set[str] = set()

    def _caller(self) -> str:
        return sys._getframe(3).f_code.co_filename  # caller -> get -> _read -> here

    def _read(self, key) -> None:
        caller = self._caller()
        if caller.startswith(PACKAGE):
            self.reads.add((str(key), caller))

    def get(self, key, default=None):
        self._read(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._read(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._read(key)
        return super().__contains__(key)

    def _copied(self) -> None:
        caller = self._caller()
        if caller.startswith(PACKAGE):
            self.copies.add(caller)

    def keys(self):
        self._copied()
        return super().keys()

    def __iter__(self):
        self._copied()
        return super().__iter__()

    def items(self):
        self._copied()
        return super().items()

    def copy(self):
        self._copied()
        return dict(super().items())


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch):
    environ = RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.setattr(replay, "driver_fingerprint", lambda: "driver")  # the replay path runs too
    return environ


def test_every_variable_read_is_declared(tmp_path: Path, recording: RecordingEnviron, capsys,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    make_runtime(root / "runtime", FakeTorch(version="2.7.1+cu128", cuda="12.8",
                                             arch_list=["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]))
    recording["GPT_SOVITS_SV_MODE"] = "cpu"
    recording["ENVDOCTOR_GPUS"] = "NVIDIA GeForce RTX 5060 Ti@12.0"
    recording["ENVDOCTOR_DRIVER"] = "576.02@12.9"
    main(["check", "--root", str(root)])
    main(["check", "--root", str(root)])  # the second one replays
    del recording["ENVDOCTOR_GPUS"], recording["ENVDOCTOR_DRIVER"]
    main(["check", "--root", str(root), "--no-live"])  # NVML, driver files, nvidia-smi on PATH
    capsys.readouterr()
    names = {name for name, _ in recording.reads}
    assert {"GPT_SOVITS_SV_MODE", "ENVDOCTOR_GPUS"} <= names  # the seam saw the reads
    # The key builders and the probes that hand the environment on read everything by design.
    undeclared = sorted((name, os.path.relpath(where, PACKAGE)) for name, where in recording.reads
                        if where not in KEY_BUILDERS | PASSES_ON and not inputs.declares(name))
    assert not undeclared, f"read without a declaration in envdoctor/probes/inputs.py: {undeclared}"
    assert recording.copies <= KEY_BUILDERS | PASSES_ON, recording.copies - KEY_BUILDERS - PASSES_ON


@pytest.mark.parametrize("name", sorted({n for names in inputs.ENV_NAMES.values() for n in names}
                                        | {"ENVDOCTOR_ANYTHING", "CUDA_MODULE_LOADING", "LC_CTYPE"}))
def test_every_declared_variable_is_in_the_replay_key(name: str) -> None:
    argv = ["check", "--root", "/x"]
    assert replay._key(argv, {name: "1"}, "driver") != replay._key(argv, {name: "2"}, "driver")
    assert replay._key(argv, {name: "1"}, "driver") != replay._key(argv, {}, "driver")


def test_the_issue_variables_are_declared() -> None:
    for name in ("is_half", "GPT_SOVITS_SV_MODE", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "PATH",
                 "ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "ENVDOCTOR_MATRIX_DIR"):
        assert inputs.declares(name), name


def test_sv_mode_change_is_computed_anew(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: GPT_SOVITS_SV_MODE changes what check answers, so a replay must not answer."""
    import envdoctor.check.pipeline as pipeline

    root = make_tree(tmp_path / "gsv", "main")
    make_runtime(root / "runtime", FakeTorch(version="2.7.1+cu128", cuda="12.8", arch_list=["sm_86"]))
    monkeypatch.setattr(replay, "driver_fingerprint", lambda: "driver")
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 3060@8.6")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    main(["check", "--root", str(root)])
    calls = []
    real = pipeline.run_check
    monkeypatch.setattr(pipeline, "run_check", lambda *a, **k: calls.append(1) or real(*a, **k))
    for value in ("on", "cpu", "on"):
        monkeypatch.setenv("GPT_SOVITS_SV_MODE", value)
        main(["check", "--root", str(root)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    main(["check", "--root", str(root)])
    capsys.readouterr()
    assert calls == [1, 1, 1]  # on, cpu, CUDA_VISIBLE_DEVICES; the second "on" replays the first


def test_every_file_read_is_stamped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Files are the other input: every file envdoctor's code opens during a check (outside its own
    code, matrix and cache, and the driver's /proc files behind the fingerprint) is in the replay's
    stamped paths, so changing it computes the answer anew."""
    import builtins

    from envdoctor.check.pipeline import run_check
    from envdoctor.check.prelaunch import replay_deps
    from envdoctor.probes.collect import CollectOptions
    from tests.support.fake_torch import site_packages
    from tests.support.fatbin_elf import write_elf

    root = make_tree(tmp_path / "gsv", "main")
    make_runtime(root / "runtime", FakeTorch(version="2.7.1+cu128", cuda="12.8", arch_list=["sm_86"]))
    site = site_packages(root / "runtime")
    write_elf(site / "torch" / "lib" / "libtorch_cuda.so", ["sm_86"])
    write_elf(site / "nvidia" / "cufft" / "lib" / "libcufft.so.11", ["sm_52"])
    cache = tmp_path / "cache"
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(cache))
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 3060@8.6")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    opened: Set[str] = set()
    real_open, real_os_open = builtins.open, os.open

    def note(path) -> None:
        caller = sys._getframe(2).f_code.co_filename
        if caller.startswith(PACKAGE) and isinstance(path, (str, Path)):
            opened.add(os.path.abspath(str(path)))

    def recording_open(path, *args, **kwargs):
        note(path)
        return real_open(path, *args, **kwargs)

    def recording_os_open(path, *args, **kwargs):
        note(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    report = run_check(CollectOptions(root=str(root)))
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(os, "open", real_os_open)
    stamped = {os.path.abspath(p) for p in replay_deps(report, str(root))}
    own = (str(cache), PACKAGE, os.path.abspath(report.matrix_where), "/proc/")
    unstamped = sorted(p for p in opened if not p.startswith(own) and p not in stamped)
    assert any(p.endswith("version.py") for p in opened), opened  # the seam saw the reads
    assert not unstamped, f"read during check but not stamped by the replay: {unstamped}"
