from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MATRIX = FIXTURES / "doctor-matrix"
LOGS = FIXTURES / "logs"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test matrix; tests/conftest.py isolates the rest (cache, GPU override, language)."""
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(MATRIX))
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at 80 otherwise; the tests read whole lines
