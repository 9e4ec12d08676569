"""Issue 23.2: what envdoctor writes to a pipe or a redirect on Windows. JSON is UTF-8 whatever the code
page; text never raises (a launcher acting on exit code 2 must get 2, not a crash's 1) and never turns
characters into `?`. The replay of an unchanged check (active where the driver's files exist) must not skip
the stream set-up."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.windows

CHINESE_FOLDER = "AI语音-GPT-SoVITS"


def _driver_files(bundle) -> None:
    """nvml.dll and nvcuda.dll in System32 are what makes the Windows driver fingerprint exist (and the
    replay of an unchanged check run); dummies stand in for NVIDIA's (no driver under Wine)."""
    system32 = bundle.lane.prefix / "drive_c" / "windows" / "system32"
    for name in ("nvml.dll", "nvcuda.dll"):
        target = system32 / name
        if not target.exists():
            target.write_bytes(b"MZ envdoctor lane stand-in")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chinese_text_through_a_pipe_exits_2_and_keeps_its_characters(make_bundle, lang: str) -> None:
    bundle = make_bundle(CHINESE_FOLDER)
    done = bundle.run("runtime\\python.exe envdoctor.pyz check --no-live --lang zh_CN | more", lang=lang)
    # `| more` hides the exit code; the same command redirected keeps it.
    # A Chinese Windows' pipe speaks GBK (so `more` and `type` show it); an English one's UTF-8 (its code
    # page 1252 cannot spell Chinese).
    encoding = "gbk" if lang == "zh" else "utf-8"
    assert "会失败" in done.out(encoding), (done.out(encoding), done.err(encoding))
    redirected = bundle.run("runtime\\python.exe envdoctor.pyz check --no-live --lang zh_CN > out.txt\n"
                            "set code=%ERRORLEVEL%\ntype out.txt > nul\nexit /b %code%", lang=lang)
    assert redirected.returncode == 2, redirected.err()
    text = (bundle.root / "out.txt").read_bytes().decode(encoding)
    assert "会失败" in text and CHINESE_FOLDER in text and "Traceback" not in redirected.err()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_json_is_utf8_on_every_run_including_the_replayed_one(make_bundle, lang: str) -> None:
    bundle = make_bundle(CHINESE_FOLDER)
    _driver_files(bundle)
    runs = [bundle.run("runtime\\python.exe envdoctor.pyz check --no-live --json", lang=lang) for _ in range(3)]
    for done in runs:
        assert done.returncode == 2, done.err()
        envelope = json.loads(done.stdout.decode("utf-8"))  # UTF-8, not the ANSI code page
        assert CHINESE_FOLDER in envelope["facts"]["runtime"]["root"]
    assert runs[1].stdout == runs[2].stdout
