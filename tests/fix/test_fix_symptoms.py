"""Symptoms first, no internals (issue 26, item 4): no finding codes in fix's text, no memo the user
never saw, no "doctor's recommendation" when doctor did not run, and configure --yes (what choice A
runs) prints its result first with the diff behind --show-diff."""

from __future__ import annotations

import re
from pathlib import Path

from envdoctor.cli.main import main
from envdoctor.i18n import catalogue
from tests.diagnose.test_every_code import declared_codes


def test_no_catalogue_text_mentions_the_memo_or_a_doctor_that_did_not_run() -> None:
    for lang, words in (("en", (r"\bmemo\b", "doctor's recommendation")), ("zh_CN", ("备忘录", "诊断建议"))):
        said = [key for key, text in catalogue(lang).items() for word in words if re.search(word, text.lower())]
        assert said == [], (lang, said)


def test_choice_a_prints_the_result_first_and_the_diff_only_when_asked(windows_bundle: Path, capsys) -> None:
    main(["configure", "--root", str(windows_bundle), "--fp16", "off", "--v2pro-sv", "cpu", "--no-live", "--yes",
          "--lang", "en"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0].startswith("Applied. Undo with:"), lines[:3]
    assert lines[1].strip().startswith("changed ")
    assert any(line.strip().startswith("changed go-webui.bat (") for line in lines[1:4])
    assert not any(line.startswith(("@@", "+++", "---")) for line in lines)
    assert "To see the lines changed: run the same command with --show-diff" in " ".join(lines)
    main(["configure", "--root", str(windows_bundle), "--fp16", "on", "--no-live", "--yes", "--show-diff",
          "--lang", "en"])
    assert any(line.startswith("@@") for line in capsys.readouterr().out.splitlines())


def test_fix_names_what_workarounds_cannot_fix_in_words(posix_bundle: Path, capsys) -> None:
    for lang in ("en", "zh_CN"):
        main(["fix", "--root", str(posix_bundle), "--no-live", "--lang", lang])
        text = capsys.readouterr().out
        codes = [code for code in declared_codes() if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)]
        assert codes == [], (lang, codes, text)
