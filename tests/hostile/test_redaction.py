"""Privacy: a log in any encoding the tool accepts is decoded before it is redacted, and redaction
is a fixed point (redacting again changes nothing), property-tested."""

from __future__ import annotations

import codecs
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.fileio.textcodec import decode_text
from envdoctor.report.logs import read_tail
from envdoctor.report.redact import Identity, Redactor

SECRETS = ("192.168.7.23", "hf_abcdefghijklmnopqrstuvwxyz0123", "bob.smith@example.com", "zhangwei-secret-home")
LOG = ("2026-12-05 08:00:01 | INFO | started on http://192.168.7.23:9874\n"
       "HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz0123\n"
       "mail to bob.smith@example.com\n"
       "File \"/home/zhangwei-secret-home/GPT-SoVITS/webui.py\", line 3\n"
       "模型加载失败:CUDA error: no kernel image is available for execution on the device\n")

ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
    "gbk": lambda t: t.encode("gbk"),
    "gb18030": lambda t: t.encode("gb18030"),
    "utf-16-le-bom": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    "utf-16-be-bom": lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    "utf-16-le": lambda t: t.encode("utf-16-le"),
    "utf-16-be": lambda t: t.encode("utf-16-be"),
}


def _leaks(data: bytes) -> list:
    found = []
    for secret in SECRETS:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            if secret.encode(encoding) in data:
                found.append((secret, encoding))
    return found


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("where", ["--log", "GPT_SoVITS/logs/webui.log"])
def test_a_log_in_any_encoding_is_redacted_in_the_zip(cli, tmp_path, encoding, where) -> None:
    root = tmp_path / "GPT-SoVITS"
    log = root / "GPT_SoVITS" / "logs" / "webui.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(ENCODINGS[encoding](LOG))
    out = tmp_path / "r.zip"
    args = ["report", "--root", str(root), "-o", str(out), "--no-live", "--no-scan"]
    if where == "--log":
        args += ["--log", str(log)]
    outcome = cli(f"report with a {encoding} log ({where})", args, expect="answer",
                  env={"ENVDOCTOR_GPUS": "none"})
    assert outcome.returncode in (0, 1, 2, 3) and not outcome.crashed, outcome.stderr
    with zipfile.ZipFile(out) as archive:
        names = [n for n in archive.namelist() if n.startswith("evidence/logs/")]
        assert names, archive.namelist()
        for name in archive.namelist():
            assert not _leaks(archive.read(name)), (name, _leaks(archive.read(name)))
        text = archive.read(names[0]).decode("utf-8")
    assert "no kernel image" in text and "模型加载失败" in text  # decoded, not mojibake
    assert "<ip>" in text and "<redacted>" in text and "<email>" in text


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("cut", [0, 1, 2, 3, 17])
def test_a_cut_tail_keeps_its_encoding(tmp_path, encoding, cut) -> None:
    body = ("x" * cut) + LOG * 40
    path = tmp_path / "a.log"
    path.write_bytes(ENCODINGS[encoding](body))
    tail = read_tail(str(path), limit=len(LOG.encode("utf-8")) * 3 + cut)
    assert tail.truncated
    assert "no kernel image is available" in tail.text
    assert "\x00" not in tail.text and "\ufffd" not in tail.text.split("\n", 1)[1]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_decode_text_reads_every_accepted_encoding(encoding) -> None:
    text, _name = decode_text(ENCODINGS[encoding](LOG))
    assert text == LOG


IDENTITY = Identity(user_names=("alice", "张伟"), home_dirs=("/home/alice", "C:\\Users\\张伟"),
                    host_names=("DESKTOP-7QX3",))
R = Redactor(IDENTITY)
_PIECES = list("aZ09 .:/\\-_=@\"'\n<>~%#") + [
    "alice", "张伟", "DESKTOP-7QX3", "<user>", "<host>", "<ip>", "<email>", "<redacted>", "<mac>", "::", ":1",
    "fe80", "ab:cd", "hf_", "key=", "token: ", "sk-", "abcdefghijklmnop", "C:\\Users\\", "/home/", "/Users/",
    "Bearer ", "GPU-", "192.168.", "10.0.0.1", "12:34:56:78:9a:bc", "x@y.com", "https://u:p@", "--token ",
    "serial: ", "version ", "~", "\\\\", "\\\\srv\\share\\", "密码：", "口令=", "：", "GRADIO_WEBHOOK=",
    "https://hooks.x.com/services/", "/api/webhooks/", "bot123456:", "13812345678", "sk_live_", "LTAI", "&sig="]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join))
def test_redaction_is_a_fixed_point(text: str) -> None:
    once = R.text(text)
    assert R.text(once) == once


@pytest.mark.parametrize("text", ["alice::a", "alice:1::a", "DESKTOP-7QX3::1", "alice::", "/home/alice::a",
                                  "张伟::1", "alice@DESKTOP-7QX3.lan"])
def test_known_non_idempotent_inputs(text: str) -> None:
    once = R.text(text)
    assert R.text(once) == once
    assert "alice" not in once and "张伟" not in once


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_redaction_of_any_text_is_a_fixed_point(text: str) -> None:
    once = R.text(text)
    assert R.text(once) == once


_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | _TEXTS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                        ["key", "token", "path", "version", "cudnn", "name", "alice"]), inner, max_size=4),
                    max_leaves=20))
def test_redaction_of_json_values_is_a_fixed_point(value) -> None:
    once = R.value(value)
    assert R.value(once) == once


# Secrets planted in a log and a launcher that survived redaction once (issue 25), and their kin.
PLANTED = [
    # (line as it appears in a log or launcher, the secret part that must be gone)
    ("GRADIO_WEBHOOK=https://hooks.example.com/services/T0A1B2C3/B4D5E6F7/q8W9e0R1t2Y3u4I5", "T0A1B2C3/B4D5E6F7"),
    ("set GRADIO_WEBHOOK=https://discord.com/api/webhooks/112233445566/AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"),
    ("posting to https://oapi.dingtalk.com/robot/send?access_token=9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706"),
    ("notify https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0", "693a91f6-7xxx"),
    ("notify https://open.feishu.cn/open-apis/bot/v2/hook/8c1d2e3f-4a5b-6c7d", "8c1d2e3f-4a5b-6c7d"),
    ("models on \\\\fileserver01\\share\\wangfang\\GPT-SoVITS", "fileserver01"),
    ("models on \\\\fileserver01\\share\\wangfang\\GPT-SoVITS", "wangfang"),
    ('"path": "\\\\\\\\nas-home\\\\users\\\\lihua\\\\x"', "lihua"),
    ('"path": "\\\\\\\\nas-home\\\\users\\\\lihua\\\\x"', "nas-home"),
    ("密码：hunter2secret", "hunter2secret"),
    ("密码:hunter3secret", "hunter3secret"),
    ("口令 = opensesame99", "opensesame99"),
    ("token：abcdEFGH1234", "abcdEFGH1234"),
    ("password：fullwidth1", "fullwidth1"),
    ("手机号 13812345678", "13812345678"),
    ("身份证 110105199001011234", "110105199001011234"),
    ("stripe sk_live_51HqLyjWDarjtT1zdp7dc", "51HqLyjWDarjtT1zdp7dc"),
    ("aliyun LTAI5tQ3xYzAbCdEfGhIjK", "LTAI5tQ3xYzAbCdEfGhIjK"),
    ("tencent AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
    ("https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
     "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
    ("blob?sv=2021-06-08&sig=Zm9vYmFyYmF6cXV4cXV1eA%3D", "Zm9vYmFyYmF6cXV4cXV1eA"),
    ("SENTRY_DSN=https://abcdef0123456789@o12345.ingest.sentry.io/67890", "abcdef0123456789"),
]


@pytest.mark.parametrize("line,secret", PLANTED)
def test_a_planted_secret_is_gone(line, secret) -> None:
    once = R.text(line)
    assert secret not in once, once
    assert R.text(once) == once


@pytest.mark.parametrize("text", ["cuDNN 9.1.0.70", '"D:\\\\GPT-SoVITS\\\\runtime"', "D:\\GPT-SoVITS\\runtime",
                                  "\\\\?\\C:\\long\\path", "https://download.pytorch.org/whl/cu128",
                                  "torch 2.7.0+cu128", "design=abc"])
def test_ordinary_paths_and_urls_are_kept(text) -> None:
    assert R.text(text) == text


def test_planted_secrets_are_gone_from_a_real_report(cli, tmp_path) -> None:
    root = tmp_path / "GPT-SoVITS"
    log = root / "logs" / "webui.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(line for line, _secret in PLANTED) + "\n", encoding="utf-8")
    (root / "go-webui.bat").write_text("set GRADIO_WEBHOOK=https://hooks.example.com/services/T0A1B2C3/B4D5E6F7/x\r\n"
                                       "runtime\\python.exe -I webui.py zh_CN\r\n", encoding="utf-8")
    out = tmp_path / "r.zip"
    outcome = cli("report with planted secrets", ["report", "--root", str(root), "-o", str(out), "--no-live",
                                                  "--no-scan", "--log", str(log)], expect="answer",
                  env={"ENVDOCTOR_GPUS": "none"})
    assert not outcome.crashed and out.is_file(), outcome.stderr
    with zipfile.ZipFile(out) as archive:
        blob = b"".join(archive.read(n) for n in archive.namelist())
    left = [secret for _line, secret in PLANTED if secret.encode() in blob or secret.replace("\\", "\\\\").encode()
            in blob]
    assert not left, left
