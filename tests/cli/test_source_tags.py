"""Issue 23.5: where each fact came from is printed as its tag ([override], [demo], [nvml]); rich took the
tags for markup and dropped them."""

from __future__ import annotations

import sys

from envdoctor.cli.main import main


def test_check_text_keeps_the_source_tags(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 4060 Ti@8.9@8188")
    monkeypatch.setenv("ENVDOCTOR_DRIVER", "560.94@12.6")
    main(["check", "--demo", "rtx4060-cu124"])
    assert "[demo]" in capsys.readouterr().out
    main(["check", "--python", sys.executable, "--no-live"])
    out = capsys.readouterr().out
    assert "[override]" in out, out
