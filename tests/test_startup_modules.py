"""What a command loads is part of its start-up time. `rollback` only renames folders: it must not load the
upgrade's stage verification (diagnosis, doctor, matrix); `check` must not load doctor's session or the
upgrade's transaction. Measured in a fresh interpreter, since this test process has loaded everything already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("envdoctor"))))
"""


def loaded_by(module: str) -> set:
    out = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module, forbidden", [
    ("envdoctor.cli.rollback", {"envdoctor.upgrade.verify", "envdoctor.doctor.session", "envdoctor.diagnose.engine"}),
    ("envdoctor.upgrade.rollback", {"envdoctor.upgrade.verify", "envdoctor.upgrade.transaction",
                                    "envdoctor.doctor.session"}),
    ("envdoctor.cli.check", {"envdoctor.doctor.session", "envdoctor.upgrade.transaction"}),
])
def test_command_does_not_load(module: str, forbidden: set) -> None:
    loaded = loaded_by(module)
    assert module in loaded  # the probe really imported it
    assert not (loaded & forbidden), sorted(loaded & forbidden)
