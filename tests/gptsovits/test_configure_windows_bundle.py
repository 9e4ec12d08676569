"""A Windows bundle (runtime/python.exe, no POSIX interpreter) configured from Linux or WSL: the
launchers it has (.bat/.ps1) get the block, no go-webui.sh appears, and --revert reports only what
it really undid."""

from __future__ import annotations

import shutil
from pathlib import Path

from envdoctor.cli.main import main
from envdoctor.gptsovits import layout
from tests.gptsovits.conftest import configure
from tests.gptsovits.trees import make_tree, snapshot


def windows_bundle(root: Path) -> Path:
    make_tree(root, "v2pro-2025")
    shutil.rmtree(root / "runtime" / "bin")  # the test trees also carry a POSIX interpreter; a real bundle does not
    return root


def test_the_layout_names_the_bundles_os(tmp_path: Path) -> None:
    assert layout.detect(str(windows_bundle(tmp_path / "win"))).bundle_os == "windows"
    hybrid = make_tree(tmp_path / "hybrid", "v2pro-2025")  # both interpreters: as a source checkout, the host decides
    assert layout.detect(str(hybrid)).bundle_os is None
    posix = make_tree(tmp_path / "posix", "v2pro-2025")
    (posix / "runtime" / "python.exe").unlink()
    assert layout.detect(str(posix)).bundle_os == "posix"


def test_a_windows_bundle_gets_no_shell_launcher_from_linux(tmp_path: Path, capsys, gpu_5060) -> None:
    root = windows_bundle(tmp_path / "bundle")
    before = snapshot(root)
    applied = configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--arch-list", "12.0", "--launcher-check",
                        "--yes", capsys=capsys)
    changed = {change["file"] for change in applied["changes"]}
    assert {"go-webui.bat", "go-webui.ps1"} <= changed and "go-webui.sh" not in changed
    assert not (root / "go-webui.sh").exists()
    assert 'set "is_half=False"' in (root / "go-webui.bat").read_bytes().decode("gbk")
    reverted = configure(root, "--revert", capsys=capsys)
    assert reverted["deleted"] == [] and "go-webui.bat" in reverted["restored"]
    assert snapshot(root) == before


def test_revert_names_no_file_that_is_not_there(tmp_path: Path, capsys, gpu_5060) -> None:
    # A source checkout on Linux gets a go-webui.sh; if the user deletes it, --revert must not claim it.
    root = make_tree(tmp_path / "checkout", "main")
    configure(root, "--fp16", "off", "--arch-list", "off", "--yes", capsys=capsys)
    assert (root / "go-webui.sh").exists()
    (root / "go-webui.sh").unlink()
    assert main(["configure", "--root", str(root), "--revert", "--force", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "go-webui.sh" not in out and "Restored go-webui.bat" in out


def test_arch_list_auto_does_not_write_this_machines_gpu_into_a_windows_bundle(tmp_path: Path, capsys,
                                                                                monkeypatch) -> None:
    from envdoctor.probes import gpus

    def this_machine() -> list:
        raise AssertionError("this machine's GPU was asked for a Windows bundle's launcher")

    monkeypatch.setattr(gpus, "default_sources", this_machine)
    root = windows_bundle(tmp_path / "bundle")
    preview = configure(root, "--arch-list", "auto", "--fp16", "off", "--v2pro-sv", "on", capsys=capsys)
    assert preview["settings"]["arch_list"] is None
    bat = next(c for c in preview["changes"] if c["file"] == "go-webui.bat")["diff"]
    assert "TORCH_CUDA_ARCH_LIST" not in bat and 'set "is_half=False"' in bat
    monkeypatch.setenv("COLUMNS", "300")
    main(["configure", "--root", str(root), "--arch-list", "auto", "--fp16", "off", "--no-live", "--lang", "en"])
    assert "a windows bundle examined on linux: this machine's GPU is not its user's" in capsys.readouterr().out


def test_the_blocks_hint_names_the_command_the_user_typed(tmp_path: Path, capsys, gpu_5060, monkeypatch) -> None:
    """Issue 26: `runtime\\python.exe envdoctor.pyz configure` writes `remove with: runtime\\python.exe
    envdoctor.pyz configure --revert` into go-webui.bat, not `envdoctor configure --revert`; the block
    written with an older hint is still found and replaced, and --revert still restores the bytes."""
    import sys

    from envdoctor.process import invocation

    root = windows_bundle(tmp_path / "bundle")
    before = snapshot(root)
    configure(root, "--fp16", "off", "--yes", capsys=capsys)  # in-process: the plain `envdoctor` hint
    assert "(remove with: envdoctor configure --revert)" in (root / "go-webui.bat").read_bytes().decode("gbk")
    # Started as the zipapp by a python below the bundle folder, in that folder.
    monkeypatch.setattr(sys, "argv", [str(root / "envdoctor.pyz")])
    monkeypatch.setattr(sys, "executable", str(root / "runtime" / "bin" / "python3"))
    monkeypatch.chdir(root)
    invocation._CACHE.clear()
    configure(root, "--fp16", "off", "--v2pro-sv", "cpu", "--yes", capsys=capsys)
    bat = (root / "go-webui.bat").read_bytes().decode("gbk")
    assert "REM envdoctor configure: begin launcher (remove with: runtime/bin/python3 envdoctor.pyz configure " \
           "--revert)" in bat
    assert bat.count("envdoctor configure: begin launcher") == 1
    configure(root, "--revert", capsys=capsys)
    assert snapshot(root) == before
    invocation._CACHE.clear()
