"""Issue 27.6: the package type-checks (`mypy envdoctor`, settings in pyproject.toml). A type error is a
test failure like any other, so the annotations stay true as the code changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_mypy_finds_no_type_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("mypy", reason="mypy is a test dependency: pip install -e '.[test]'")
    cache = tmp_path_factory.mktemp("mypy-cache")
    done = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), "envdoctor"], cwd=str(REPO),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
