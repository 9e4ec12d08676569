"""The lane itself: a bundle user's first command, as typed in a console in D:\\GPT-SoVITS, in an English
and a Chinese Windows. If these fail, every other Windows-lane result means nothing."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.windows


def test_check_from_the_bundle_folder_exits_2_on_the_memo_gpu(make_bundle) -> None:
    bundle = make_bundle()
    assert bundle.win.startswith(("D:\\", "E:\\", "F:\\")), bundle.win  # on a drive of its own, not Z:
    done = bundle.run("runtime\\python.exe envdoctor.pyz check --no-live --json")
    assert done.returncode == 2, done.err()
    envelope = json.loads(done.out())
    assert envelope["facts"]["runtime"]["layout"] == "windows-embedded"
    assert envelope["facts"]["runtime"]["python_version"] == "3.11"
    assert {"nvrtc-too-old", "fp16-attention-abort-risk"} <= {f["code"] for f in envelope["findings"]}


def test_chinese_console_prints_chinese(make_bundle) -> None:
    bundle = make_bundle()
    done = bundle.run("runtime\\python.exe envdoctor.pyz check --no-live --lang zh_CN", lang="zh")
    assert done.returncode == 2, done.err("gbk")
    assert "会失败" in done.out("gbk"), done.out("gbk")  # a GBK pipe in a Chinese Windows
