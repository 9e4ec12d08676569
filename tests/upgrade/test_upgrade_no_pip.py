"""Issue 23.5: a runtime without pip (embeddable bundles exist). The upgrade needs the runtime's own pip to
install into its staged copy; without it the plan says so before anything is downloaded or staged, in the
user's words (no traceback, no blame on the wheel source)."""

from __future__ import annotations

import json
import os
import shutil

import upgrade_helpers as h

from envdoctor.cli.main import main


def test_a_runtime_without_pip_is_refused_up_front(tmp_path, wheels, env, index, capsys) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    h.make_venv(str(root / "runtime"), with_pip=False)
    before = sorted(os.listdir(root))
    for lang, words in (("en", "has no pip"), ("zh_CN", "没有 pip")):
        code = main(["upgrade", "--root", str(root), "--index-url", index.url, "-y", "--lang", lang])
        captured = capsys.readouterr()
        assert code in (2, 3), captured
        text = captured.out + captured.err
        assert words in text and "Traceback" not in text, text
    code = main(["upgrade", "--root", str(root), "--index-url", index.url, "--dry-run", "--json"])
    envelope = json.loads(capsys.readouterr().out)
    assert "has no pip" in json.dumps(envelope), envelope
    assert sorted(os.listdir(root)) == before  # nothing staged
    shutil.rmtree(root)
