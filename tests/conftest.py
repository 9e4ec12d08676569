from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cache, the repo's matrix, no GPU override and English by default."""
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    for name in ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "ENVDOCTOR_MATRIX_DIR", "ENVDOCTOR_LANG", "LC_ALL",
                 "ENVDOCTOR_COMMAND_PREFIX",
                 "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001
    """Ctrl-C tests send SIGINT to envdoctor (in this process or a child). A shell starting the suite in
    the background without job control (`pytest &` in a script) leaves SIGINT ignored, and an ignored
    signal stays ignored in every child: give the suite Python's own Ctrl-C handler back (children start
    with the default action, since a handler is not inherited across exec)."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and os.path.exists("/dev/nvidiactl")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """The one place `gpu` tests are skipped (on a machine without an NVIDIA GPU and driver) and `windows`
    tests are (without a Windows CPython under Wine: tests/windows/lane.py says how to get one)."""
    from tests.windows.lane import why_unavailable

    skips = {}
    if not has_gpu():
        skips["gpu"] = pytest.mark.skip(reason="needs an NVIDIA GPU and driver (run on the GPU machine)")
    no_wine = why_unavailable()
    if no_wine:
        skips["windows"] = pytest.mark.skip(reason=no_wine)
    for item in items:
        for marker, skip in skips.items():
            # the marker itself: `in item.keywords` also matches a module named test_upgrade_windows.py
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _envelopes_follow_their_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON envelope a command prints in any test is checked against its published schema."""
    from envdoctor.cli.ui import Ui
    from tests.support.envelopes import validate

    printed = Ui.print_json

    def print_json(self: Ui, payload: dict) -> None:
        validate(payload)
        printed(self, payload)

    monkeypatch.setattr(Ui, "print_json", print_json)


# A real CPU torch for tests that must run the real thing (this machine's pip serves 2.13.0 from disk).
REAL_TORCH = "2.13.0"


def _venvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Beside pytest's numbered session folders (never in the user's home); ENVDOCTOR_TEST_VENVS moves it."""
    override = os.environ.get("ENVDOCTOR_TEST_VENVS")
    return Path(override) if override else tmp_path_factory.getbasetemp().parent / "envdoctor-test-venvs"


@pytest.fixture(scope="session")
def cpu_torch_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the real CPU torch. Installing torch takes a minute or more, so it is built once and
    kept beside pytest's session folders for later sessions. Sessions running at the same time never
    share a half-built one: each builds in its own staging folder and renames it into place when
    complete; the loser of that race throws its copy away and uses the winner's."""
    key = f"torch-{REAL_TORCH}-py{sys.version_info[0]}{sys.version_info[1]}"
    final = _venvs(tmp_path_factory) / key
    python = final / "bin" / "python"
    if (final / ".complete").exists():
        return python
    staging = final.parent / f".{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True)
    pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run(pip + [f"torch=={REAL_TORCH}"], capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"cannot install torch=={REAL_TORCH}: {(done.stderr or done.stdout).strip()[-300:]}")
    # onnxruntime (CPU) is optional: with it the onnxruntime smoke test runs its CPU half for real.
    subprocess.run(pip + ["onnxruntime", "numpy"], capture_output=True, text=True)
    (staging / ".complete").write_text(REAL_TORCH, encoding="utf-8")
    try:
        staging.rename(final)  # a venv's python works moved; only its scripts hold the old path
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another session finished first: use its venv
    return python
