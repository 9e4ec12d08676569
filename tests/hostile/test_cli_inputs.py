"""Bad input to the command line, the environment overrides and the files a check reads: one clear
message in either language, exit 3 — never a traceback, "Unexpected error", a hang or a wrong verdict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.probes.gpus import OverrideError, parse_override
from tests.hostile.conftest import REPO
from tests.support.fake_torch import FakeTorch, make_runtime


@pytest.mark.parametrize("lang, text", [("en", "No command given"), ("zh_CN", "没有给出命令")])
def test_no_arguments(cli, lang, text) -> None:
    outcome = cli(f"envdoctor with no arguments ({lang})", [], env={"ENVDOCTOR_LANG": lang})
    assert outcome.clear_error and text in outcome.stderr, outcome.stderr


@pytest.mark.parametrize("argv", [["--debug", "check", "--root", "/nonexistent-gsv"],
                                  ["--lang", "zh_CN", "check", "--root", "/nonexistent-gsv"],
                                  ["--json", "--debug", "check", "--root", "/nonexistent-gsv"],
                                  ["--debug"], ["--lang", "zh_CN"]])
def test_common_options_before_the_command(cli, argv) -> None:
    outcome = cli(f"top-level {' '.join(argv[:2])}", argv)
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert "unrecognized arguments" not in outcome.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e309", "-1", "0", "abc", "", "1e-400"])
@pytest.mark.parametrize("command", ["check", "report", "doctor"])
def test_live_timeout_must_be_a_finite_positive_number(cli, command, value) -> None:
    outcome = cli(f"{command} --live-timeout {value!r}", [command, "--live-timeout", value, "--root", "."])
    assert outcome.clear_error and "--live-timeout" in outcome.stderr, outcome.stderr


@pytest.mark.parametrize("gpus, driver", [
    ("X@12", "576.02"), ("X@-1.0", "576.02"), ("X@1e20", "576.02"), ("X@8.6@-5", "576.02"), ("@8.6", "576.02"),
    ("X@8.6@1e9", "576.02"), ("X@8.6@16@extra", "576.02"), ("X@0.0", "576.02"), ("X@8.6", "garbage"),
    ("X@8.6", "576.02@twelve"), ("X@8.6", "-1"), ("X@8.6", "1e20"), ("X@8.6", ""),
])
def test_gpu_overrides_are_validated_like_user_input(cli, tmp_path, gpus, driver) -> None:
    outcome = cli(f"ENVDOCTOR_GPUS={gpus!r} ENVDOCTOR_DRIVER={driver!r}",
                  ["check", "--python", sys.executable, "--no-live", "--no-scan"],
                  env={"ENVDOCTOR_GPUS": gpus, "ENVDOCTOR_DRIVER": driver})
    assert outcome.clear_error and "override" in outcome.stderr.lower(), outcome.stdout + outcome.stderr


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=20)))
def test_gpu_override_parser_never_fails_other_than_cleanly(gpus: str, driver) -> None:
    try:
        facts = parse_override(gpus, driver)
    except OverrideError:
        return
    for gpu in facts.gpus:
        assert gpu.name and gpu.compute_capability is not None and gpu.compute_capability[0] >= 1
        assert gpu.memory_total_mib is None or gpu.memory_total_mib > 0
    if facts.driver is not None:
        assert facts.driver.version[0].isdigit()


@pytest.mark.parametrize("kind", ["loop", "file-as-root", "device-as-python", "dir-as-python", "true-as-python",
                                  "under-a-file", "fifo-as-python"])
def test_messages_say_what_is_really_wrong(cli, tmp_path, kind) -> None:
    expected = {"loop": "symlink loop", "file-as-root": "is a file", "device-as-python": "is a device",
                "dir-as-python": "No Python runtime", "true-as-python": "not a working Python",
                "under-a-file": "is a file", "fifo-as-python": "named pipe"}[kind]
    if kind == "loop":
        os.symlink("loop", tmp_path / "loop")
        args = ["--root", str(tmp_path / "loop")]
    elif kind == "file-as-root":
        (tmp_path / "f").write_text("x")
        args = ["--root", str(tmp_path / "f")]
    elif kind == "device-as-python":
        args = ["--python", "/dev/zero"]
    elif kind == "dir-as-python":
        args = ["--python", str(tmp_path)]
    elif kind == "true-as-python":
        args = ["--python", shutil.which("true") or "/bin/true"]
    elif kind == "under-a-file":
        (tmp_path / "f").write_text("x")
        args = ["--root", str(tmp_path / "f" / "GPT-SoVITS")]
    else:
        os.mkfifo(tmp_path / "python3")
        args = ["--python", str(tmp_path / "python3")]
    outcome = cli(f"check {kind}", ["check", *args])
    assert outcome.clear_error and expected in outcome.stderr, outcome.stderr
    assert "does not exist" not in outcome.stderr or kind == "missing"


def _as_nobody():
    def drop() -> None:
        os.setgid(65534)
        os.setuid(65534)
    return drop


def test_an_interpreter_in_an_unreadable_folder(tmp_path) -> None:
    sealed = tmp_path / "sealed"
    (sealed / "runtime" / "bin").mkdir(parents=True)
    (sealed / "runtime" / "bin" / "python3").write_text("#!/bin/sh\n")
    (sealed / "runtime").chmod(0o000)
    tmp_path.chmod(0o755)
    import sysconfig

    paths = [str(REPO), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), HOME=str(tmp_path),
               ENVDOCTOR_CACHE_DIR=str(tmp_path / "c"))
    python = sys.executable
    if os.geteuid() == 0:
        # root reads every folder: run as nobody, with a system interpreter nobody may execute.
        # (a venv's python is a link into /root/.pyenv: judge the file it resolves to)
        python = next((p for p in (shutil.which(f"python3.{sys.version_info[1]}"), "/usr/bin/python3")
                       if p and os.access(p, os.X_OK) and not os.path.realpath(p).startswith("/root")), "")
        try:
            probe = subprocess.run([python, "-c", "import envdoctor, rich, yaml"], env=env, capture_output=True,
                                   preexec_fn=_as_nobody()) if python else None
        except OSError:  # nobody may not execute it after all
            probe = None
        if probe is None or probe.returncode != 0:
            pytest.skip("no interpreter the unprivileged user can run envdoctor with")
    argv = [python, "-m", "envdoctor"]
    try:
        inner = str(sealed / "runtime" / "bin" / "python3")
        for args in (["check", "--root", str(sealed)], ["check", "--python", inner]):
            done = subprocess.run(argv + args, capture_output=True, text=True, env=env, timeout=60, cwd=str(tmp_path),
                                  preexec_fn=_as_nobody() if os.geteuid() == 0 else None)
            assert done.returncode == 3 and "Unexpected" not in done.stderr and "Traceback" not in done.stderr, \
                done.stderr
            assert "cannot be read" in done.stderr or "No Python runtime" in done.stderr, done.stderr
    finally:
        (sealed / "runtime").chmod(0o755)


def _answering_runtime(tmp_path: Path, answer: str) -> Path:
    root = tmp_path / "gsv"
    python = make_runtime(root / "runtime", FakeTorch())
    real = os.path.realpath(python)
    os.remove(python)
    python.write_text(f"#!/bin/sh\ncase \"$*\" in *ENVDOCTOR-LIVE*) echo 'ENVDOCTOR-LIVE {answer}';; "
                      f"*) exec '{real}' \"$@\";; esac\n", encoding="utf-8")
    python.chmod(0o755)
    return root


@pytest.mark.parametrize("answer", [
    '{"devices": [{"index": "zero", "cc": 8.6}], "stage": "done"}',
    '{"devices": "all", "stage": "done"}',
    '{"arch_list": "sm_86", "stage": "done"}',
    '{"arch_list": [1, 2], "cuda_available": "yes"}',
    '{"torch_version": {"x": 1}, "devices": [[1]]}',
    '{"devices": [{"index": 1e30}]}',
    "[1, 2]",
    "null",
])
def test_a_live_probe_answer_of_the_wrong_shape(cli, tmp_path, answer) -> None:
    root = _answering_runtime(tmp_path, answer)
    outcome = cli(f"live answer {answer[:40]}", ["check", "--root", str(root), "--no-scan", "--json"],
                  expect="answer", env={"ENVDOCTOR_GPUS": "NVIDIA GeForce RTX 3060@8.6", "ENVDOCTOR_DRIVER": "576.02"})
    assert not outcome.crashed and outcome.returncode in (0, 1, 2, 3), outcome.stderr
    live = json.loads(outcome.stdout)["facts"]["live"]
    assert live["status"] in ("failed", "ok")


def test_a_broken_schema_yaml_is_a_clear_error(cli, tmp_path) -> None:
    for name, text in (("syntax", "files: [unclosed\n"), ("list", "- 1\n- 2\n"), ("types", "files: {errors.yaml: 3}\n"),
                       ("deep", "a: " + "[" * 5000 + "]" * 5000 + "\n")):
        matrix = tmp_path / name
        shutil.copytree(REPO / "matrices", matrix)
        (matrix / "schema.yaml").write_text(text, encoding="utf-8")
        outcome = cli(f"broken schema.yaml ({name})", ["explain", str(REPO / "README.md")],
                      env={"ENVDOCTOR_MATRIX_DIR": str(matrix)})
        assert outcome.clear_error and "schema.yaml" in outcome.stderr, outcome.stderr


@pytest.mark.parametrize("command", [["check"], ["report"], ["explain", "x.log"], ["configure", "--show"],
                                     ["rollback"], ["recover"], ["summarize", "."]])
def test_a_deleted_working_folder(cli, tmp_path, command) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (f"import os, subprocess, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
              f"sys.exit(subprocess.run([sys.executable, '-m', 'envdoctor', *{command!r}]).returncode)")
    outcome = cli(f"deleted cwd / {command[0]}", ["--version"], expect="any")  # warm nothing; real run below
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 3 and "no longer exists" in done.stderr, done.stderr
    assert outcome.returncode == 0


@pytest.mark.parametrize("content", [b"__version__ = '2.6.0'\n\x00\x00", b"x = " + b"(" * 100000 + b"\n",
                                     b"__version__ = '2.6.0'\n" + b"[" * 300000, b"\xff\xfe\x00garbage",
                                     b"__version__ = " + b"'" * 5000],
                         # short ids: pytest puts the test id in PYTEST_CURRENT_TEST, which the child inherits,
                         # and a 300 kB id makes exec fail with E2BIG (Argument list too long)
                         ids=["nul-bytes", "deep-parens", "deep-brackets", "utf16-garbage", "quotes"])
def test_a_damaged_torch_version_py(cli, tmp_path, content) -> None:
    root = tmp_path / "gsv"
    make_runtime(root / "runtime", FakeTorch())
    version = next((root / "runtime").glob("lib/python3.*/site-packages/torch/version.py"))
    version.write_bytes(content)
    outcome = cli(f"damaged version.py {content[:20]!r}", ["check", "--root", str(root), "--no-live", "--no-scan"],
                  expect="answer", env={"ENVDOCTOR_GPUS": "none"})
    assert not outcome.crashed and outcome.returncode in (0, 1, 2, 3), outcome.stderr
