"""Bad input never crashes: a clear message, exit code 3, no traceback unless --debug."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env_extra: dict = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize(
    ("args", "key_text"),
    [
        (["check", "--root", "/nonexistent/gpt-sovits"], "does not exist"),
        (["check", "--python", "/nonexistent/python"], "does not exist"),
        (["check", "--bogus-flag"], "Bad arguments"),
        (["check", "--demo", "no-such-scenario"], "Unknown demo scenario"),
    ],
)
def test_bad_input_exits_3_with_a_message(args, key_text) -> None:
    result = run_cli(*args)
    assert result.returncode == 3, result.stderr
    assert key_text in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["check", "scan", "rollback"])
def test_an_unknown_option_shows_the_commands_usage(command: str, capsys) -> None:
    assert main([command, "--bogus", "x"]) == 3
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err and f"usage: envdoctor {command} " in err


def test_empty_folder_has_no_runtime(tmp_path: Path, capsys) -> None:
    assert main(["check", "--root", str(tmp_path)]) == 3
    assert "No Python runtime found" in capsys.readouterr().err


def test_errors_in_chinese_and_as_json(tmp_path: Path, capsys) -> None:
    assert main(["check", "--root", str(tmp_path), "--lang", "zh_CN"]) == 3
    assert "没有找到 Python 运行环境" in capsys.readouterr().err
    assert main(["check", "--root", str(tmp_path), "--json"]) == 3
    envelope = json.loads(capsys.readouterr().out)
    assert envelope["verdict"] == "could-not-check" and envelope["error"]["key"] == "error.no_runtime"


def test_a_python_that_is_not_python(tmp_path: Path, capsys) -> None:
    impostor = tmp_path / "python3"
    impostor.write_bytes(b"\x7fELF garbage")
    impostor.chmod(0o755)
    assert main(["check", "--python", str(impostor)]) == 3
    assert "not a working Python interpreter" in capsys.readouterr().err



def test_broken_gpu_override_is_a_usage_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "RTX 5090")  # no compute capability
    assert main(["check", "--demo"]) != 3  # the demo brings its own GPU: the override is not read
    assert main(["check", "--root", str(tmp_path)]) == 3


def test_broken_matrix_is_reported_with_file_and_line(tmp_path: Path, capsys, monkeypatch) -> None:
    broken = tmp_path / "matrices"
    shutil.copytree(REPO / "matrices", broken)
    (broken / "torch.yaml").write_text("schema_version: 1\nseries: nope\n", encoding="utf-8")
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(broken))
    assert main(["check", "--demo"]) == 3
    err = capsys.readouterr().err
    assert "torch.yaml" in err and "line 2" in err and "series" in err


def test_unexpected_errors_say_so_and_debug_shows_the_traceback(monkeypatch, capsys) -> None:
    import envdoctor.check.pipeline as pipeline

    def explode(*args, **kwargs):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(pipeline, "run_check", explode)
    assert main(["check", "--demo"]) == 3
    assert "Unexpected error: ZeroDivisionError: planted" in capsys.readouterr().err
    with pytest.raises(ZeroDivisionError):
        main(["check", "--demo", "--debug"])


def test_demo_runs_without_a_gpu() -> None:
    result = run_cli("check", "--demo")
    assert result.returncode == 2
    assert "Will fail on this GPU" in result.stdout
    ready = run_cli("check", "--demo", "rtx5060ti-cu128", "--lang", "zh_CN")
    assert ready.returncode == 0 and "就绪" in ready.stdout


def _python39() -> str:
    """A working Python 3.9 interpreter, if this machine has one (pyenv shims may exist but not work)."""
    import glob

    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python")))
    for candidate in [shutil.which("python3.9"), *pyenv]:
        if candidate:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                                   text=True)
            if probe.returncode == 0 and probe.stdout.strip() == "(3, 9)":
                return candidate
    return ""


PYTHON39 = _python39()


@pytest.mark.skipif(not PYTHON39, reason="no working Python 3.9 interpreter on this machine")
def test_the_package_runs_on_python_3_9(tmp_path: Path) -> None:
    """Old bundles ship Python 3.9: envdoctor must compile there and run a check (JSON mode needs only PyYAML)."""
    import yaml

    result = subprocess.run([PYTHON39, "-m", "compileall", "-q", str(REPO / "envdoctor")], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # PyYAML's `yaml` package is pure Python (its C accelerator is optional), so a copy serves 3.9.
    shutil.copytree(Path(yaml.__file__).parent, tmp_path / "yaml", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]))
    run = subprocess.run([PYTHON39, "-m", "envdoctor", "check", "--demo", "--json"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert run.returncode == 2, run.stderr
    assert json.loads(run.stdout)["verdict"] == "will-fail"


def test_exit_code_survives_a_reader_that_goes_away() -> None:
    """`envdoctor check | head -1` in a launcher script: the verdict's exit code must still come back.
    The read end is closed before envdoctor writes anything, so its first write meets a broken pipe
    (with a reader that read one line, the pipe's buffer could swallow the whole output)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "envdoctor", "check", "--demo"], stdout=write_end,
                            stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(write_end)
    assert result.returncode == 2, result.stderr


def test_rollback_refuses_a_negative_keep(tmp_path: Path, capsys) -> None:
    """--keep -1 would slice away every kept runtime: it is bad input, nothing is touched."""
    kept = tmp_path / ".envdoctor"
    kept.mkdir()
    assert main(["rollback", "--root", str(tmp_path), "--prune", "--keep", "-1"]) == 3
    assert "must be 0 or more" in capsys.readouterr().err
    assert kept.is_dir()
