"""configure against damaged or unusual GPT-SoVITS folders: GBK config.py, a launcher value the
unpatched config.py ignores, paths with spaces in --check-command, temporaries of a killed run,
a tampered manifest, FIFOs where files belong."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from envdoctor.gptsovits import launchers
from tests.gptsovits.trees import make_tree
from tests.hostile.conftest import snapshot, unchanged

GPU = {"ENVDOCTOR_GPUS": "NVIDIA GeForce RTX 5060 Ti@12.0@16311", "ENVDOCTOR_DRIVER": "576.02@12.9"}


def _configure(cli, case, root, *args, expect="answer", env=None):
    return cli(case, ["configure", "--root", str(root), "--no-live", *args], expect=expect, env={**GPU, **(env or {})})


def test_show_does_not_claim_fp16_off_when_the_unpatched_config_overrides_it(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    bat = root / "go-webui.bat"
    text = bat.read_text(encoding="ascii")
    body = launchers.bat_body({"is_half": "False"}, None, "")
    bat.write_text(launchers.apply(text, "\r\n", "go-webui.bat", body), encoding="ascii")
    outcome = _configure(cli, "configure --show with an overridden launcher is_half", root, "--show", "--json")
    assert outcome.returncode == 0, outcome.stderr
    rows = [r for r in json.loads(outcome.stdout)["settings"] if r["setting"] == "fp16" and r["applies_to"] == "webui"]
    in_effect = [r for r in rows if not r["source"].endswith("_overridden")]
    assert [r["value"] for r in in_effect] == ["auto"], rows
    assert any(r["source"] == "launcher_overridden" and r["value"] == "False" for r in rows), rows
    text_outcome = _configure(cli, "configure --show text (zh_CN)", root, "--show", "--lang", "zh_CN")
    assert "被忽略" in text_outcome.stdout


def test_a_gbk_config_py_is_patched_and_reverted_byte_for_byte(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    config = root / "config.py"
    original = config.read_bytes().replace(b"\n", "\n# 半精度设置，显卡不支持时改为 False\n".encode("gbk"), 1)
    config.write_bytes(original)
    with pytest.raises(UnicodeDecodeError):
        original.decode("utf-8")
    outcome = _configure(cli, "configure --yes with a GBK config.py", root, "--yes", "--fp16", "off", "--json")
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    patched = config.read_bytes()
    assert patched != original and "半精度设置".encode("gbk") in patched
    patched.decode("gbk")  # still one encoding throughout
    outcome = _configure(cli, "configure --revert of a GBK config.py", root, "--revert", "--json")
    assert outcome.returncode == 0, outcome.stderr
    assert config.read_bytes() == original


@pytest.mark.parametrize("name", ["my tools", "it's $HOME & more"])
def test_a_check_command_with_spaces_is_one_word_in_the_launcher(cli, tmp_path, name) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    folder = tmp_path / name
    folder.mkdir()
    marker = tmp_path / "called"
    command = folder / "envdoctor"
    command.write_text(f"#!/bin/sh\necho \"$@\" > '{marker}'\nexit 2\n", encoding="utf-8")
    command.chmod(0o755)
    outcome = _configure(cli, f"configure --check-command with {name!r}", root, "--yes", "--launcher-check",
                         "--check-command", str(command), "--json")
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    launcher = root / "go-webui.sh"
    ran = subprocess.run(["sh", str(launcher)], capture_output=True, text=True, timeout=30, cwd=root)
    assert ran.returncode == 2, ran.stdout + ran.stderr  # the check said "will fail": the WebUI did not start
    assert marker.read_text().startswith("check --launcher --root")
    ps1 = (root / "go-webui.ps1").read_text(encoding="utf-8-sig")
    assert f"& '{command}'".replace("'s", "''s") in ps1 or f"& '{str(command).replace(chr(39), chr(39) * 2)}'" in ps1


def test_a_check_command_that_cannot_be_quoted_is_refused(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    before = snapshot(root)
    outcome = _configure(cli, "configure --check-command with a double quote", root, "--yes", "--launcher-check",
                         "--check-command", 'C:\\a"b\\envdoctor.exe', expect="error")
    assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert unchanged("configure bad check command", before, snapshot(root))


def test_temporaries_of_a_killed_configure_are_cleaned_by_the_next_run(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    killed = _configure(cli, "configure killed after a temporary", root, "--yes", "--fp16", "off", expect="killed",
                        env={"ENVDOCTOR_FAULT_AT": "atomic-written#2"})
    assert killed.returncode == -9
    left = [p for p in root.rglob(".envdoctor-*.tmp")]
    assert left
    for path in left:
        os.utime(path, (1, 1))  # as if the kill was a minute ago
    outcome = _configure(cli, "configure --revert after a kill", root, "--revert", "--force", "--json", expect="any")
    assert not outcome.crashed, outcome.stderr
    assert not list(root.rglob(".envdoctor-*.tmp"))


@pytest.mark.parametrize("manifest", [
    {"schema": "envdoctor.configure-manifest", "version": 1, "files": {"../../victim.txt": {"existed": False}}},
    {"schema": "envdoctor.configure-manifest", "version": 1, "files": {"/tmp/x": {"existed": False}}},
    {"schema": "envdoctor.configure-manifest", "version": 1, "files": [1, 2]},
    {"schema": "envdoctor.configure-manifest", "version": 1, "files": {"config.py": "x"}},
    [1, 2, 3],
    "[" * 50000,
])
def test_a_tampered_configure_manifest_touches_nothing(cli, tmp_path, manifest) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    victim = tmp_path / "victim.txt"
    victim.write_text("user data")
    state = root / ".envdoctor" / "configure"
    state.mkdir(parents=True)
    (state / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    before = snapshot(tmp_path, skip=())
    for args in (["--revert", "--force"], ["--yes", "--fp16", "off"]):
        outcome = _configure(cli, f"configure {args[0]} with manifest {str(manifest)[:40]}", root, *args,
                             expect="error")
        assert outcome.clear_error, outcome.stdout + outcome.stderr
    assert victim.read_text() == "user data"
    assert unchanged(f"tampered manifest {str(manifest)[:40]}", before, snapshot(tmp_path, skip=()))


def test_a_fifo_where_config_py_belongs_does_not_block(cli, tmp_path) -> None:
    root = make_tree(tmp_path / "gsv", "main")
    (root / "config.py").unlink()
    os.mkfifo(root / "config.py")
    for args in (["--show"], ["--yes", "--fp16", "off"]):
        outcome = _configure(cli, f"configure {args[0]} with a FIFO config.py", root, *args, expect="any")
        assert not outcome.hung and not outcome.crashed, outcome.stderr
    assert Path(root / "config.py").is_fifo()
