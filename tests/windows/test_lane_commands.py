"""Issue 23: the other commands a bundle user runs, each from D:\\...\\GPT-SoVITS with runtime\\python.exe,
in an English and a Chinese (code page 936) console, exit codes through `cmd /c` and .bat files:
configure and a byte-exact --revert (GBK, CRLF launcher kept), the launcher block's exit code 2 and its
missing-runtime\\ path, explain on GBK and UTF-16 logs, scan of a Windows PE, report redaction of
C:\\Users\\张伟\\. Files answer everything: no torch import."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from envdoctor.demo import SCENARIOS, write_app, write_bundle
from tests.windows import lane as wl
from tests.windows.conftest import GBK_BAT, MEMO_GPU, WinBundle

pytestmark = pytest.mark.windows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LANGS = {"en": "en", "zh": "zh_CN"}
ENCODING = {"en": "utf-8", "zh": "gbk"}


def _double_click(bundle: WinBundle, lang: str) -> wl.Completed:
    return bundle.lane.bat(bundle.root / "go-webui.bat", bundle.root, lang=lang, stdin=b"\r\n\r\n",
                           env={"ENVDOCTOR_CACHE_DIR": bundle.cache, **bundle.env})


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_configure_then_revert_is_byte_exact_and_the_block_exits_2_through_the_bat(make_bundle, lang: str) -> None:
    bundle = make_bundle()
    before = (bundle.root / "go-webui.bat").read_bytes()
    # README "For Windows bundle users", step 2 as written (the Chinese console adds --lang zh_CN)
    suffix = " --lang zh_CN" if lang == "zh" else ""
    done = bundle.run(f"runtime\\python.exe envdoctor.pyz configure --launcher-check --yes{suffix}", lang=lang)
    assert done.returncode == 0, (done.out(ENCODING[lang]), done.err(ENCODING[lang]))
    data = (bundle.root / "go-webui.bat").read_bytes()
    text = data.decode("gbk")  # still GBK
    assert data.count(b"\n") == data.count(b"\r\n") and "REM 启动 GPT-SoVITS 整合包" in text
    lines = text.split("\r\n")
    assert '"%~dp0runtime\\python.exe" "%~dp0envdoctor.pyz" check --launcher --root "%~dp0."' in lines  # no `call`
    # double-clicked: the pre-launch check says "will fail" (exit 2) and the WebUI is not started.
    # With `call` before the program, Wine's cmd read 1 and started it.
    started = bundle.root / "webui-started"
    (bundle.root / "webui.py").write_text("open('webui-started', 'w').write('yes')\n")
    launched = _double_click(bundle, lang)
    assert launched.returncode == 2, (launched.out(ENCODING[lang]), launched.err(ENCODING[lang]))
    assert not started.exists()
    (bundle.root / "webui.py").unlink()
    write_app(str(bundle.root))  # the app file as it was, for the revert's check
    reverted = bundle.run(f"runtime\\python.exe envdoctor.pyz configure --revert{suffix}", lang=lang)  # step 3
    assert reverted.returncode == 0, (reverted.out(ENCODING[lang]), reverted.err(ENCODING[lang]))
    assert (bundle.root / "go-webui.bat").read_bytes() == before


def test_the_launcher_block_says_what_to_do_when_runtime_is_missing(make_bundle) -> None:
    bundle = make_bundle()
    done = bundle.run("runtime\\python.exe envdoctor.pyz configure --launcher-check --yes --no-live --lang en")
    assert done.returncode == 0, done.out()
    shutil.move(str(bundle.runtime), str(bundle.root / "runtime.moved"))  # as an interrupted swap leaves it
    launched = _double_click(bundle, "en")
    out = launched.out()
    assert launched.returncode == 3, (out, launched.err())
    assert "runtime\\python.exe is missing" in out and "envdoctor.pyz recover" in out


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("encoding", ["gbk", "utf-16"])
def test_explain_reads_gbk_and_utf16_logs(make_bundle, lang: str, encoding: str) -> None:
    bundle = make_bundle()
    text = (FIXTURES / "logs" / "webui-v2pro-nvrtc.gbk.log").read_bytes().decode("gbk")
    (bundle.root / "logs").mkdir(exist_ok=True)
    (bundle.root / "logs" / "webui.log").write_bytes(text.encode(encoding))  # utf-16: with its BOM
    done = bundle.run(f"runtime\\python.exe envdoctor.pyz explain logs\\webui.log --no-machine --json "
                      f"--lang {LANGS[lang]}", lang=lang)
    assert done.returncode == 0, (done.out(), done.err())
    envelope = json.loads(done.out())
    assert envelope["matches"], envelope


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_scan_reads_a_windows_pe(make_bundle, lang: str) -> None:
    bundle = make_bundle()
    shutil.copy(FIXTURES / "fatbin" / "windows.dll", bundle.root / "torch_cuda.dll")
    done = bundle.run(f"runtime\\python.exe envdoctor.pyz scan torch_cuda.dll --json --lang {LANGS[lang]}",
                      lang=lang)
    assert done.returncode in (0, 1, 2), (done.out(), done.err())
    out = done.out()
    assert "sm_86" in out and "sm_90a" in out, out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_hides_the_chinese_user_name(lane, pyz, lang: str, tmp_path: Path) -> None:
    users = lane.prefix / "drive_c" / "users" / "张伟"
    root = users / f"GPT-SoVITS-{lang}-{tmp_path.name}"
    write_bundle(str(root), SCENARIOS["rtx5060ti-v2pro"])
    write_app(str(root))
    (root / "go-webui.bat").write_bytes(GBK_BAT)
    wl.install_interpreter(lane, root / "runtime")
    (root / "envdoctor.pyz").write_bytes(pyz.read_bytes())
    bundle = WinBundle(lane, root, "C:\\users\\张伟\\envdoctor-cache",
                       {**MEMO_GPU, "USERNAME": "张伟", "USERPROFILE": "C:\\Users\\张伟"})
    # the console in C:\Users\张伟\GPT-SoVITS-... (named through %USERPROFILE%: an English .bat cannot spell it)
    done = bundle.run(f"cd /d \"%USERPROFILE%\\{root.name}\"\nruntime\\python.exe envdoctor.pyz report --no-live "
                      f"-o report.zip --lang {LANGS[lang]}", lang=lang)
    assert done.returncode in (0, 1, 2), (done.out(ENCODING[lang]), done.err(ENCODING[lang]))
    with zipfile.ZipFile(root / "report.zip") as archive:
        content = "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    assert root.name in content  # the bundle is in the report, its owner's name is not
    assert "张伟" not in content
