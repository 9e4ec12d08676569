"""Log tails and their last error; the seams to doctor and explain (and when those break)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from envdoctor.errors import EnvdoctorError
from envdoctor.matrix.views import KnownError
from envdoctor.report import logs
from envdoctor.support import seams

MEMO_TRACEBACK = textwrap.dedent("""\
    INFO start
    Traceback (most recent call last):
      File "GPT_SoVITS/eres2net/kaldi.py", line 621, in fbank
        spectrum = torch.fft.rfft(strided_input).abs()
    RuntimeError:
      nvrtc: error: invalid value for --gpu-architecture (-arch)
    INFO next request
    """)


def test_recent_error_is_the_whole_last_traceback() -> None:
    error = logs.recent_error("Traceback (most recent call last):\n  x\nValueError: old\n" + MEMO_TRACEBACK)
    assert error is not None
    assert error.startswith("Traceback") and "kaldi.py" in error
    assert error.endswith("nvrtc: error: invalid value for --gpu-architecture (-arch)")
    assert "old" not in error and "next request" not in error


def test_a_later_fatal_line_wins_over_an_earlier_traceback() -> None:
    text = MEMO_TRACEBACK + "loading model\nFATAL: this function is for sm80, but was built for sm370\n"
    assert logs.recent_error(text) == "INFO next request\nloading model\n" \
        "FATAL: this function is for sm80, but was built for sm370"


def test_no_error_means_none() -> None:
    assert logs.recent_error("INFO all good\nINFO still good\n") is None


def test_tail_reads_only_the_end_and_drops_the_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"line %06d\n" % i for i in range(100_000)))
    tail = logs.read_tail(str(path), limit=1000)
    assert tail.truncated and tail.size == path.stat().st_size
    lines = tail.text.splitlines()
    assert lines[-1] == "line 099999" and all(line.startswith("line ") and len(line) == 11 for line in lines)


def test_chinese_windows_logs_in_gbk_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "gbk.log"
    path.write_bytes("错误：找不到显卡\r\n".encode("gbk"))
    assert logs.read_tail(str(path)).text == "错误：找不到显卡\n"


def test_find_logs_takes_the_newest_under_logs(tmp_path: Path) -> None:
    deep = tmp_path / "logs" / "exp" / "logs_s2"
    deep.mkdir(parents=True)
    too_deep = deep / "a" / "b"
    too_deep.mkdir(parents=True)
    for number, path in enumerate([tmp_path / "root.log", deep / "train.log", tmp_path / "logs" / "webui.log",
                                   too_deep / "hidden.log", tmp_path / "logs" / "old.log"]):
        path.write_text("x", encoding="utf-8")
        os.utime(path, (1_000_000 + number, 1_000_000 + number))
    os.utime(tmp_path / "logs" / "old.log", (10, 10))
    found = [Path(p).name for p in logs.find_logs(str(tmp_path))]
    assert found == ["webui.log", "train.log", "root.log"]


def test_doctor_seam_turns_a_crash_into_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.doctor import session

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(session, "run_smoke_tests", boom)
    check = SimpleNamespace(facts=object())
    assert seams.doctor_section(check, None, "en") == {"available": True, "error": "RuntimeError: boom"}

    def refused(*args, **kwargs):
        raise EnvdoctorError("error.no_runtime", root="/x")

    monkeypatch.setattr(session, "run_smoke_tests", refused)
    section = seams.doctor_section(check, None, "zh_CN")
    assert section["available"] is True and "没有找到 Python 运行环境" in section["error"]


def test_explain_seam_reads_with_explains_matcher_and_the_reports_matrix() -> None:
    known = (KnownError("nvrtc-arch", r"nvrtc: error: invalid value for --gpu-architecture",
                        {"en": "NVRTC too old", "zh_CN": "NVRTC 太旧"}, {"en": "c", "zh_CN": "原因"},
                        {"en": "f", "zh_CN": "办法"}, "memo"),)
    reading = seams.explain_text(MEMO_TRACEBACK, "zh_CN", lambda: known)
    assert {k: reading[k] for k in ("code", "title", "cause", "fix", "source", "by")} == {
        "code": "nvrtc-arch", "title": "NVRTC 太旧", "cause": "原因", "fix": "办法", "source": "memo", "by": "explain"}
    assert reading["line"] == 6 and "nvrtc: error" in reading["evidence"]
    assert seams.explain_text("nothing known", "en", lambda: known) is None


def test_explain_seam_survives_a_broken_explainer_and_a_broken_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    import envdoctor.explain

    def no_matrix():
        raise EnvdoctorError("error.matrix_dir_missing", file="/x")

    assert seams.explain_text("nvrtc", "en", no_matrix) is None
    monkeypatch.setattr(envdoctor.explain, "explain_for_report", lambda *a: 1 / 0)
    assert seams.explain_text("nvrtc", "en", lambda: ()) == {
        "code": "explain-failed", "title": "ZeroDivisionError: division by zero", "by": "explain"}
