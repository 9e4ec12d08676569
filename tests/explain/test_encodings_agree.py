"""One encoding detector (envdoctor.fileio.textcodec): `explain` (streaming a whole log) and `report --log` (its
tail) read a log the same way, whatever Windows wrote it in, so they find the same known error."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from envdoctor.cli.main import main

from .conftest import LOGS

TEXT = (LOGS / "webui-fp16-fatal.log").read_text(encoding="utf-8")
FORMS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "gbk": lambda text: text.replace("\n", "\r\n").encode("gbk"),
    "utf-16-le-no-bom": lambda text: text.replace("\n", "\r\n").encode("utf-16-le"),
    "utf-16-be-no-bom": lambda text: text.encode("utf-16-be"),
    "utf-16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le"),
    "utf-32-le-bom": lambda text: codecs.BOM_UTF32_LE + text.replace("\n", "\r\n").encode("utf-32-le"),
    "utf-32-be-bom": lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"),
}


def _explain(capsys, path: Path) -> dict:
    main(["explain", "--json", "--no-machine", str(path)])
    return json.loads(capsys.readouterr().out)


def _report_log(capsys, path: Path, root: Path) -> dict:
    main(["report", "--json", "--no-live", "--no-scan", "--root", str(root), "--log", str(path),
          "-o", str(root / "out.zip")])
    return json.loads(capsys.readouterr().out)["report"]["logs"][0]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_explain_and_report_log_find_the_same_error_in_every_encoding(form, tmp_path, capsys) -> None:
    path = tmp_path / f"webui.{form}.log"
    path.write_bytes(FORMS[form](TEXT))
    explained = _explain(capsys, path)
    assert [m["code"] for m in explained["matches"]] == ["arch-not-compatible", "fp16-attention-arch-mismatch"]
    assert explained["input"]["lines"] == 18
    assert [m["line"] for m in explained["matches"]] == [5, 15]
    logged = _report_log(capsys, path, tmp_path)
    assert logged["explain"]["code"] == "fp16-attention-arch-mismatch"
    assert logged["recent_error"].splitlines() == ["FATAL: this function is for sm80, but was built for sm370"] * 3
