"""A support report carries every file `configure` writes (gptsovits/layout.py's one list): after a real
configure of a GPT-SoVITS tree, go-webui.sh and GPT_SoVITS/sv.py are in the zip, redacted where a secret
was and otherwise byte for byte, with their shape recorded and the shell launcher's settings summarised."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from envdoctor.cli.main import main
from envdoctor.gptsovits import layout
from tests.gptsovits.trees import make_tree

TOKEN = "hf_" + "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0"


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5060 Ti@12.0@16311")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "576.02@12.9")
    root = make_tree(tmp_path / "GPT-SoVITS", "main")
    assert main(["configure", "--root", str(root), "--no-live", "--fp16", "off", "--v2pro-sv", "cpu", "--yes"]) == 0
    capsys.readouterr()
    sh = root / layout.SH
    assert sh.exists() and "envdoctor" in (root / layout.SV_PY).read_text(encoding="utf-8")  # configure wrote both
    # The user keeps a token in the launcher configure wrote: the report must carry the file, not the token.
    sh.write_bytes(sh.read_bytes() + f"export HF_TOKEN='{TOKEN}'\n".encode())
    return root


def test_the_report_carries_the_files_configure_wrote(configured: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "report.zip"
    assert main(["report", "--root", str(configured), "--no-live", "-o", str(output)]) in (0, 1, 2)
    capsys.readouterr()
    with zipfile.ZipFile(output) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    sh_name, sv_name = "evidence/gptsovits/go-webui.sh", "evidence/gptsovits/GPT_SoVITS_sv.py"
    assert files[sv_name] == (configured / layout.SV_PY).read_bytes()  # nothing to redact: the very bytes
    original = (configured / layout.SH).read_bytes()
    assert TOKEN.encode() not in files[sh_name] and b"<redacted>" in files[sh_name]
    assert files[sh_name].replace(b"<redacted>", TOKEN.encode()) == original  # only the secret changed

    report = json.loads(files["report.json"])["report"]
    assert {layout.SH, layout.SV_PY} <= set(report["gptsovits"]["files"])
    sh_env = report["gptsovits"]["launchers"][layout.SH]["env"]
    assert sh_env["is_half"] == "False"  # the shell launcher's settings are read, like the .bat's
    listing = {e["path"]: e for e in report["evidence"]}
    assert (listing[sv_name]["encoding"], listing[sv_name]["bytes"]) == ("utf-8", len(files[sv_name]))
    assert listing[sh_name]["newline"] == "lf"
