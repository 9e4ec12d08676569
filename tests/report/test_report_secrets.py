"""Secrets planted in every input a report reads must not survive in any file of the zip."""

from __future__ import annotations

import html
import json
import textwrap
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from report_machine import GPU_SERIAL, GPU_UUID, make_machine, use_environment

from envdoctor.cli.main import main
from envdoctor.report.markdown import escape as md_escape
from envdoctor.support import seams

USER = "zhangsanfeng"
HOST = "WIN-PLANT3D42"

# name -> the secret text that must not appear (several inputs carry more than one).
SECRETS = {
    "user name": USER,
    "host name": HOST,
    "Windows COMPUTERNAME": "DESKTOP-SECRET7",
    "Chinese user name": "李雷",
    "HF token (env)": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "OpenAI key (env)": "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
    "GitHub token (env)": "ghp_1234567890abcdefghijABCDEFGHIJ123456",
    "secret-named variable": "plainsecretvalue42",
    "proxy password": "Pr0xyPassw0rd",
    "proxy user": "proxyuser",
    "proxy IP": "10.20.30.40",
    "server IP (env)": "192.168.77.12",
    "Windows user in env path": "envwinuser",
    "e-mail": "lilei.support@example-corp.cn",
    "JWT bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNlY3JldA",
    "basic auth": "dXNlcjpwYXNzd29yZA==",
    "api_key value": "AKeyValue_998877",
    "JSON password": "Hunter2IsMyPass",
    "AWS key": "AKIAIOSFODNN7EXAMPLE",
    "Slack token": "xoxb-123456789012-abcdefGHIJKL",
    "Google key": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "GitHub fine-grained token": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "IPv6": "2001:db8:85a3::8a2e:370:7334",
    "MAC": "3c:7c:3f:1a:2b:4d",
    "Windows user in log path": "WinLogUser",
    "macOS user in log path": "macperson",
    "user in JSON-escaped path": "jsonperson",
    "private key": "MIIEpAIBAAKCAQEAplantedkeymaterial",
    "URL password": "Dep10yS3cret",
    "CLI token": "clitok_5566778899",
    "cookie": "cookievalue12345",
    "IPv4 in log": "203.0.113.99",
    "YAML token": "yamltokenvalue123",
    "launcher HF token": "hf_BatFileTokenValue0123456789abcdef",
    "PowerShell key": "ps1secretvalue777",
    "weight.json user": "weightuser",
    "live probe path user": "probeuser",
    "live probe session": "sess0987654321",
    "smoke output user": "smokeuser",
    "smoke output key": "sk-smoketest0123456789abcdef",
    "GPU UUID": GPU_UUID[4:],
    "GPU serial": GPU_SERIAL,
}

LOG = textwrap.dedent("""\
    INFO user lilei.support@example-corp.cn logged in from 203.0.113.99 via 2001:db8:85a3::8a2e:370:7334
    DEBUG request headers: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNlY3JldA
    DEBUG retry with Authorization: Basic dXNlcjpwYXNzd29yZA==
    DEBUG config api_key=AKeyValue_998877 {"password": "Hunter2IsMyPass"}
    DEBUG aws AKIAIOSFODNN7EXAMPLE slack xoxb-123456789012-abcdefGHIJKL google AIzaSyA1234567890abcdefghijklmnopqrstuv
    DEBUG gh github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz on WIN-PLANT3D42 (mac 3c:7c:3f:1a:2b:4d)
    DEBUG Cookie: cookievalue12345
    INFO loading C:\\Users\\WinLogUser\\AppData\\Local\\model.ckpt and /Users/macperson/Library/voice.wav
    INFO settings {"path": "C:\\\\Users\\\\jsonperson\\\\GPT-SoVITS"}
    -----BEGIN RSA PRIVATE KEY-----
    MIIEpAIBAAKCAQEAplantedkeymaterial
    -----END RSA PRIVATE KEY-----
    INFO git pull https://deploy:Dep10yS3cret@git.example.com/repo.git
    INFO started: python api.py --token clitok_5566778899 by zhangsanfeng at 李雷's desk
    Traceback (most recent call last):
      File "C:\\Users\\李雷\\GPT-SoVITS\\GPT_SoVITS\\TTS_infer_pack\\TTS.py", line 10, in run
    RuntimeError: FATAL: this function is for sm80, but was built for sm370
    """)

# The doctor's smoke tests (a stand-in for the doctor package, at its seam) echo paths and keys too.
# The doctor's part of the report, with a secret in a smoke test's output (stands in for the real run).
DOCTOR = {"verdict": "will-fail", "smoke": [{"name": "fp16-sdpa", "status": "crashed", "summary": "SIGABRT",
          "output": "C:\\Users\\smokeuser\\x.py: OPENAI_API_KEY=sk-smoketest0123456789abcdef"}]}

TORCH_RAISES = textwrap.dedent("""\
    raise OSError("[WinError 126] C:\\\\Users\\\\probeuser\\\\torch\\\\lib\\\\c10.dll session_id=sess0987654321")
    """)


def forms(secret: str) -> set:
    """Every way a renderer or encoder could have written the secret."""
    return {
        secret, secret.lower(), secret.upper(),
        json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret), md_escape(secret), urllib.parse.quote(secret), urllib.parse.quote_plus(secret),
        secret.replace("\\", "\\\\"),
    }


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    machine = make_machine(tmp_path, user=USER, host=HOST, posix_runtime=True)
    runtime = machine.root / "runtime"
    site = next((runtime / "lib").glob("python3.*/site-packages"))
    (site / "torch" / "__init__.py").write_text(TORCH_RAISES, encoding="utf-8")
    (machine.root / "GPT_SoVITS" / "configs" / "tts_infer.yaml").write_text(
        "custom:\n  device: cuda\n  is_half: true\n  token: yamltokenvalue123\n"
        f"  bert_base_path: /home/{USER}/models/bert\n", encoding="utf-8")
    (machine.root / "go-webui.bat").write_text(
        'set "HF_TOKEN=hf_BatFileTokenValue0123456789abcdef"\nruntime\\python.exe -I webui.py zh_CN\n',
        encoding="utf-8")
    (machine.root / "go-webui.ps1").write_text(
        '$env:MY_API_KEY = "ps1secretvalue777"\n& runtime\\python.exe -I webui.py zh_CN\n', encoding="utf-8")
    (machine.root / "weight.json").write_text(
        json.dumps({"GPT": {"v2": "C:\\Users\\weightuser\\GPT_weights\\a.ckpt"}}), encoding="utf-8")
    log = tmp_path / "ticket.log"
    log.write_text(LOG, encoding="utf-8")
    env = dict(machine.env)
    env.update({
        "USERNAME": "李雷",
        "COMPUTERNAME": "DESKTOP-SECRET7",
        "HF_TOKEN": SECRETS["HF token (env)"],
        "OPENAI_API_KEY": SECRETS["OpenAI key (env)"],
        "GITHUB_TOKEN": SECRETS["GitHub token (env)"],
        "PYTORCH_UPLOAD_SECRET": "plainsecretvalue42",
        "HTTPS_PROXY": "http://proxyuser:Pr0xyPassw0rd@10.20.30.40:3128",
        "GRADIO_SERVER_NAME": "192.168.77.12",
        "CUDA_PATH": "C:\\Users\\envwinuser\\cuda",
        "TORCH_HOME": f"/home/{USER}/.cache/torch",
    })
    use_environment(monkeypatch, env)
    monkeypatch.setattr(seams, "_run_doctor", lambda check, options, lang, progress: DOCTOR)
    return machine, log


def test_no_planted_secret_survives_in_any_file_of_the_zip(planted, tmp_path: Path, capsys) -> None:
    machine, log = planted
    assert len(SECRETS) >= 30
    output = tmp_path / "out" / "report.zip"
    assert main(["report", "--root", str(machine.root), "--log", str(log), "--doctor", "-o", str(output)]) == 0
    raw = output.read_bytes()
    with zipfile.ZipFile(output) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    # Every input was read: the planted files are in the zip, so their secrets had a way in.
    assert {"evidence/gptsovits/go-webui.bat", "evidence/gptsovits/go-webui.ps1", "evidence/gptsovits/weight.json",
            "evidence/nvidia-smi-q.txt", "evidence/live-probe.json", "evidence/smoke/fp16-sdpa.txt"} <= set(contents)
    assert any(name.startswith("evidence/logs/") and name.endswith("ticket.log.txt") for name in contents)
    leaks = []
    for label, secret in SECRETS.items():
        for form in forms(secret):
            needle = form.encode("utf-8")
            if needle in raw:
                leaks.append(f"{label}: {form!r} in the raw zip bytes")
            leaks.extend(f"{label}: {form!r} in {name}" for name, data in contents.items() if needle in data)
    home = str(machine.home)
    leaks.extend(f"home folder in {name}" for name, data in contents.items() if home.encode() in data)
    assert leaks == []
    # ... and what support needs is still there.
    text = contents["report.md"].decode("utf-8")
    assert "RTX 5060 Ti" in text and "576.02" in text and "2.6.0+cu124" in text
    assert "this function is for sm80" in text
    smi = contents["evidence/nvidia-smi-q.txt"].decode("utf-8")
    assert "GPU UUID                              : GPU-<hash:" in smi
    assert "Serial Number                         : <hash:" in smi
    report = json.loads(contents["report.json"])
    assert report["report"]["redacted"] is True
    assert report["report"]["environment"]["HF_TOKEN"] == "<redacted>"
    assert report["facts"]["live"]["status"] == "failed"
    capsys.readouterr()


def test_no_redact_keeps_everything_and_says_so(planted, tmp_path: Path, capsys) -> None:
    machine, log = planted
    output = tmp_path / "raw.zip"
    assert main(["report", "--root", str(machine.root), "--log", str(log), "--no-redact", "--no-live",
                 "-o", str(output)]) == 0
    with zipfile.ZipFile(output) as archive:
        md = archive.read("report.md").decode("utf-8")
        envelope = json.loads(archive.read("report.json"))
        log_text = next(archive.read(n) for n in archive.namelist() if n.endswith("ticket.log.txt")).decode()
    assert envelope["report"]["redacted"] is False
    assert "NOT REDACTED" in md
    assert SECRETS["AWS key"] in log_text and str(machine.home) in json.dumps(envelope, ensure_ascii=False)
    # Re-rendering a raw report without --no-redact cleans it.
    clean = tmp_path / "clean.zip"
    assert main(["report", "--from", str(output), "-o", str(clean)]) == 0
    with zipfile.ZipFile(clean) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    assert json.loads(contents["report.json"])["report"]["redacted"] is True
    for secret in (SECRETS["AWS key"], SECRETS["JWT bearer"], USER, SECRETS["HF token (env)"]):
        assert not [name for name, data in contents.items() if secret.encode() in data], secret
    capsys.readouterr()
