"""Fixtures for the report tests (the machines themselves are built in report_machine.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_machine import Machine, make_machine, use_environment


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    made = make_machine(tmp_path)
    use_environment(monkeypatch, made.env)
    return made
