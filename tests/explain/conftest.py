from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MATRIX = FIXTURES / "doctor-matrix"
LOGS = FIXTURES / "logs"


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ENVDOCTOR_MATRIX_DIR", str(MATRIX))
    for name in ("ENVDOCTOR_GPUS", "ENVDOCTOR_DRIVER", "ENVDOCTOR_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at 80 otherwise; the tests read whole lines
