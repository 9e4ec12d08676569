"""`envdoctor explain` from the command line: files, stdin, languages, JSON, this machine, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.demo import SCENARIOS, write_bundle
from envdoctor.explain.literals import required_literals

from .conftest import LOGS


def _json(capsys, *argv: str) -> dict:
    code = main(["explain", "--json", *argv])
    out = json.loads(capsys.readouterr().out)
    out["_exit"] = code
    return out


def test_memo_failure_2_in_chinese(capsys) -> None:
    code = main(["explain", str(LOGS / "webui-v2pro-nvrtc.gbk.log"), "--lang", "zh_CN", "--no-machine"])
    text = capsys.readouterr().out
    assert code == 0
    assert "NVRTC 无法为这张显卡编译" in text and "第 16 行" in text
    assert "kaldi.py" in text and "envdoctor configure --v2pro-sv cpu" in text


def test_json_envelope_and_exit_codes(capsys) -> None:
    out = _json(capsys, str(LOGS / "webui-fp16-fatal.log"), "--no-machine")
    assert out["schema"] == "envdoctor.explain" and out["status"] == "matched" and out["_exit"] == 0
    assert [m["code"] for m in out["matches"]] == ["arch-not-compatible", "fp16-attention-arch-mismatch"]
    fatal = out["matches"][1]
    assert fatal["line"] == 15 and fatal["count"] == 3 and fatal["source"].startswith("cuda-compat-memo")
    assert out["input"]["encoding"] == "utf-8" and out["input"]["lines"] == 18


def test_unknown_error_empty_and_binary_are_answers(tmp_path: Path, capsys) -> None:
    unknown = tmp_path / "unknown.log"
    unknown.write_text("开始推理\nKeyError: 'speaker_7'\n", encoding="utf-8")
    out = _json(capsys, str(unknown), "--no-machine")
    assert out["_exit"] == 1 and out["status"] == "no-known-error"
    assert out["error_lines"] == [{"line": 2, "text": "KeyError: 'speaker_7'"}]
    code = main(["explain", str(unknown), "--no-machine"])
    text = capsys.readouterr().out
    assert code == 1 and "No known error found." in text and "2: KeyError: 'speaker_7'" in text
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert _json(capsys, str(empty), "--no-machine")["status"] == "empty"
    binary = tmp_path / "model.pth"
    binary.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(256)) * 64)
    out = _json(capsys, str(binary), "--no-machine")
    assert out["status"] == "binary" and out["_exit"] == 1
    assert main(["explain", str(binary), "--no-machine"]) == 1
    assert "is not a text log" in capsys.readouterr().out


def test_unreadable_input_exits_3(tmp_path: Path, capsys) -> None:
    assert main(["explain", str(tmp_path / "missing.log")]) == 3
    assert "file not found" in capsys.readouterr().err
    assert main(["explain", str(tmp_path)]) == 3  # a folder


def test_stdin(monkeypatch, capsys) -> None:
    class _Stdin(io.TextIOWrapper):
        def isatty(self) -> bool:
            return False

    data = "Traceback (most recent call last):\nRuntimeError: CUDA error: no kernel image is available for " \
           "execution on the device\n".encode("gbk")
    monkeypatch.setattr("sys.stdin", _Stdin(io.BytesIO(data)))
    out = _json(capsys, "-", "--no-machine")
    assert [m["code"] for m in out["matches"]] == ["no-kernel-image"] and out["input"]["name"] == "stdin"


def test_log_linked_to_this_machine(tmp_path: Path, capsys, monkeypatch) -> None:
    write_bundle(str(tmp_path), SCENARIOS["rtx5060ti-cu124"])
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    out = _json(capsys, str(LOGS / "webui-v2pro-nvrtc.gbk.log"), "--root", str(tmp_path))
    (match,) = out["matches"]
    assert match["machine"]["status"] == "explained"
    assert [f["code"] for f in match["machine"]["findings"]] == ["nvrtc-too-old"]
    monkeypatch.setenv("COLUMNS", "200")
    main(["explain", str(LOGS / "webui-v2pro-nvrtc.gbk.log"), "--root", str(tmp_path)])
    text = capsys.readouterr().out
    assert "explained by what envdoctor sees here" in text and "NVRTC of CUDA 12.4 cannot compile" in text


def test_log_from_before_an_upgrade_is_not_seen_on_this_machine(tmp_path: Path, capsys, monkeypatch) -> None:
    write_bundle(str(tmp_path), SCENARIOS["rtx5060ti-cu128"])
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    out = _json(capsys, str(LOGS / "webui-v2pro-nvrtc.gbk.log"), "--root", str(tmp_path))
    assert out["matches"][0]["machine"]["status"] == "not-seen"


@pytest.mark.parametrize("pattern, literals", [
    (r"nvrtc: error: invalid value", {b"nvrtc: error: invalid value"}),
    (r"CUDA out of memory|OutOfMemoryError", {b"cuda out of memory", b"outofmemoryerror"}),
    (r"FATAL: (this|kernel) is", {b"fatal: "}),
    (r"(?:CUBLAS|CUDNN)_STATUS_\w+", {b"_status_"}),
    (r"\d+\s+\d+", None),
    (r"a|bcd", None),
])
def test_required_literals(pattern: str, literals) -> None:
    got = required_literals(pattern)
    assert (set(got) if got is not None else None) == literals
