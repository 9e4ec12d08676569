"""The first check after a runtime change (issue 26, item 8): it says what it is doing before the
runtime's `import torch` (stderr, never with --json), and a launcher's `check --launcher` does not wait
for torch where the files already answer; the live facts are read in the background for the next start."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.i18n import message
from envdoctor.probes.live import BACKGROUND
from tests.support.fake_torch import FakeTorch, make_runtime

RTX5060TI = "NVIDIA GeForce RTX 5060 Ti@12.0"
RTX4060 = "NVIDIA GeForce RTX 4060 Ti@8.9"
DRIVER = "576.02@12.9"
OLD_ARCHS = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


@pytest.fixture
def gpu(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ENVDOCTOR_DRIVER", DRIVER)
    monkeypatch.setenv("ENVDOCTOR_NO_REPLAY", "1")
    return lambda name: monkeypatch.setenv("ENVDOCTOR_GPUS", name)


def _check(capsys, root: Path, *extra: str):  # type: ignore[no-untyped-def]
    code = main(["check", "--root", str(root), "--no-scan", "--lang", "en", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_first_check_says_it_is_reading_torch(tmp_path: Path, gpu, capsys) -> None:
    gpu(RTX4060)
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4", arch_list=OLD_ARCHS))
    _code, _out, err = _check(capsys, tmp_path)
    assert message("en", "check.reading_torch") in err
    _code, _out, err = _check(capsys, tmp_path)  # answered from the cache: nothing to wait for
    assert message("en", "check.reading_torch") not in err
    make_runtime(tmp_path / "fresh" / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4", arch_list=OLD_ARCHS))
    _code, out, err = _check(capsys, tmp_path / "fresh", "--json")
    assert err == "" and json.loads(out)["facts"]["live"]["status"] == "ok"


def test_a_launcher_never_waits_on_torch_when_the_files_answer(tmp_path: Path, gpu, capsys) -> None:
    gpu(RTX5060TI)  # cu124 on sm_120: the files say "will fail"
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4", arch_list=OLD_ARCHS,
                                                 behaviour="hang"))
    code, out, err = _check(capsys, tmp_path, "--launcher", "--json", "--live-timeout", "5")
    envelope = json.loads(out)
    assert code == 2 and envelope["verdict"] == "will-fail"
    assert envelope["facts"]["live"] == {**envelope["facts"]["live"], "status": "skipped", "error": BACKGROUND}


def test_the_background_refresh_gives_the_next_launch_the_live_facts(tmp_path: Path, gpu, capsys) -> None:
    gpu(RTX5060TI)
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4", arch_list=OLD_ARCHS))
    code, out, _err = _check(capsys, tmp_path, "--launcher", "--json")
    assert code == 2 and json.loads(out)["facts"]["live"]["error"] == BACKGROUND
    deadline = time.monotonic() + 120  # the detached child imports (stand-in) torch and fills the cache
    live = {}
    while time.monotonic() < deadline:
        _code, out, _err = _check(capsys, tmp_path, "--launcher", "--json")
        live = json.loads(out)["facts"]["live"]
        if live.get("status") == "ok":
            break
        time.sleep(0.5)
    assert live.get("status") == "ok" and live.get("cached") is True, live


def test_a_launcher_waits_when_the_files_leave_it_open(tmp_path: Path, gpu, capsys) -> None:
    """Only warnings from the files (no GPU here): the live probe settles it, so it is waited for once."""
    gpu("none")
    make_runtime(tmp_path / "runtime", FakeTorch(version="2.6.0+cu124", cuda="12.4", arch_list=OLD_ARCHS))
    code, out, _err = _check(capsys, tmp_path, "--launcher", "--json")
    assert json.loads(out)["facts"]["live"]["status"] == "ok" and code == 1
