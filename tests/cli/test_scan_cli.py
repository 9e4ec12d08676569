"""`envdoctor scan` on the real nvcc-built fixtures: JSON shape, verdicts, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from envdoctor.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fatbin"


def scan_json(capsys, *args: str) -> dict:
    code = main(["scan", "--json", *args])
    result = json.loads(capsys.readouterr().out)
    result["exit_code"] = code
    return result


def test_json_lists_counts_per_arch(capsys) -> None:
    result = scan_json(capsys, str(FIXTURES / "multi_arch.so"), str(FIXTURES / "windows.dll"), "--cc", "8.6")
    by_name = {Path(b["path"]).name: b for b in result["binaries"]}
    assert by_name["multi_arch.so"]["sass"] == {"sm_75": 2, "sm_80": 2, "sm_86": 2, "sm_90": 2}
    assert by_name["windows.dll"]["format"] == "pe"
    assert by_name["windows.dll"]["sass"] == {"sm_86": 1, "sm_90a": 1}
    assert result["gpus"]["8.6"]["verdict"] == "native" and result["exit_code"] == 0


def test_a_folder_is_judged_as_a_whole_and_lacking_binaries_are_named(capsys) -> None:
    result = scan_json(capsys, str(FIXTURES), "--cc", "12.0")
    summary = result["gpus"]["12.0"]
    assert summary["verdict"] == "none" and result["exit_code"] == 2
    lacking = {Path(p).name for p in summary["lacking"]}
    assert {"sm75.so", "multi_arch.so"} <= lacking
    assert "family.so" not in lacking  # sm_120 family SASS serves 12.0
    assert "ptx_only.so" in {Path(p).name for p in summary["ptx_only"]}


def test_ptx_only_is_exit_1(capsys) -> None:
    result = scan_json(capsys, str(FIXTURES / "ptx_only.so"), "--cc", "9.0")
    assert result["gpus"]["9.0"]["verdict"] == "ptx-jit" and result["exit_code"] == 1


def test_bad_paths_and_capabilities_exit_3(tmp_path, capsys) -> None:
    assert main(["scan", str(tmp_path / "missing.so")]) == 3
    assert main(["scan", str(FIXTURES), "--cc", "twelve"]) == 3
    garbage = tmp_path / "libbroken.so"
    garbage.write_bytes(b"\x7fELF" + b"\xff" * 60)
    result = scan_json(capsys, str(garbage), "--cc", "9.0")
    assert result["binaries"][0]["error"] and result["exit_code"] == 1


def test_terminal_table(capsys) -> None:
    assert main(["scan", str(FIXTURES / "sm75.so"), "--cc", "9.0"]) == 2
    out = capsys.readouterr().out
    assert "sm_75×2" in out and "none" in out


def test_terminal_table_prints_paths_as_they_are(tmp_path, capsys, monkeypatch) -> None:
    """Brackets in a folder name are not rich markup: neither eaten ([bold]) nor a crash ([/x])."""
    monkeypatch.setenv("COLUMNS", "400")  # no folding inside the paths
    for folder in ("[bold]y", "[/x]"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "liba.so").write_bytes((FIXTURES / "sm75.so").read_bytes())
    assert main(["scan", str(tmp_path), "--cc", "9.0"]) == 2
    out = capsys.readouterr().out
    assert "[bold]y" in out and "[/x]" in out


def test_a_named_file_without_cuda_code_is_listed_as_such(tmp_path, capsys, monkeypatch) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a binary\n", encoding="utf-8")
    result = scan_json(capsys, str(text), str(FIXTURES / "sm75.so"), "--cc", "7.5")
    by_name = {Path(b["path"]).name: b for b in result["binaries"]}
    assert by_name["notes.txt"]["cuda"] is False and by_name["sm75.so"]["cuda"] is True
    assert result["exit_code"] == 0  # a file that is not a binary is no warning about the GPU
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["scan", str(text), "--cc", "7.5"]) == 0
    out = capsys.readouterr().out
    assert "notes.txt" in out and "no CUDA device code" in out and "No CUDA kernels found" in out
    # below a folder, files without CUDA code stay out unless --all
    folder = scan_json(capsys, str(tmp_path), "--cc", "7.5")
    assert folder["binaries"] == [] and folder["exit_code"] == 0


def test_no_gpu_and_no_cc_says_how_to_judge_and_exits_3(capsys, monkeypatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "none")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "none")
    result = scan_json(capsys, str(FIXTURES / "sm75.so"))
    assert result["exit_code"] == 3 and result["gpus"] == {} and "error" not in result
    assert result["notes"][0]["key"] == "ui.scan.no_gpu"
    assert main(["scan", str(FIXTURES / "sm75.so")]) == 3
    out = capsys.readouterr().out
    assert "sm_75×2" in out and "--cc" in out
