"""kill -9 at every step of `rollback` and of `recover`: afterwards `recover` always leaves one
whole runtime (the old or the new, byte for byte), nothing outside the tool's folder changes, and
the journal has no open transaction. Like the kill tests of configure and upgrade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout
from tests.hostile.conftest import snapshot
from tests.hostile.test_upgrade_state import bundle, keep_backup

POINTS = ["begin", "atomic-written#1", "atomic-written#2", "swap-begin", "move#1", "move#2", "committed"]
_FAST = {("move#1", "two-renames"), ("swap-begin", "exchange"), ("move#1", False)}  # the rest: -m slow


def _cases(points, modes):
    return [pytest.param(p, m, marks=() if (p, m) in _FAST else pytest.mark.slow) for p in points for m in modes]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    from tests.support.fake_torch import FakeTorch, make_runtime

    base = tmp_path_factory.mktemp("kill-template")
    make_runtime(base / "runtime", FakeTorch(version="2.6.0+cu124"))
    return base / "runtime"


def _prepare(tmp_path: Path, template: Path):
    root = bundle(tmp_path, template)
    (root / "runtime" / "who").write_text("current")
    backup = keep_backup(root, template, with_manifest=False)
    (backup / "who").write_text("backup")
    from envdoctor.upgrade import manifest

    manifest.record(str(backup), Layout(str(root)).manifest("20260101T000000Z-abcdef"))
    wholes = {"current": snapshot(root / "runtime"), "backup": snapshot(backup)}
    return root, wholes


def _which(root: Path, wholes) -> str:
    now = snapshot(root / "runtime")
    return next((name for name, tree in wholes.items() if tree == now), "broken")


@pytest.mark.parametrize("point, exchange", _cases(POINTS, ["exchange", "two-renames"]))
def test_rollback_killed_at_any_step_is_recovered_whole(cli, tmp_path, template, point, exchange) -> None:
    root, wholes = _prepare(tmp_path, template)
    models = snapshot(root / "models")
    env = {"ENVDOCTOR_FAULT_AT": point, **({"ENVDOCTOR_NO_EXCHANGE": "1"} if exchange == "two-renames" else {})}
    killed = cli(f"rollback killed at {point} ({exchange})", ["rollback", "--root", str(root)], expect="killed",
                 env=env)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    runtime_now = _which(root, wholes) if (root / "runtime").exists() else "empty"
    if exchange == "exchange":
        assert runtime_now in ("current", "backup")  # never a moment without a whole runtime
    outcome = cli(f"recover after rollback killed at {point}", ["recover", "--root", str(root), "--json"],
                  expect="answer", env={k: v for k, v in env.items() if k != "ENVDOCTOR_FAULT_AT"})
    assert outcome.returncode == 0, outcome.stderr
    final = _which(root, wholes)
    assert final in ("current", "backup"), final
    if point in ("swap-begin", "move#1", "move#2", "committed"):
        assert final == "backup"  # from swap-begin on, recovery finishes the rollback
    assert snapshot(root / "models") == models
    assert not Journal(Layout(str(root))).open_transactions()


@pytest.mark.parametrize("second, reverse", _cases(["move#1", "move#2", "committed", "reversed"], [False, True]))
def test_recover_killed_while_recovering_is_recovered_whole(cli, tmp_path, template, second, reverse) -> None:
    root, wholes = _prepare(tmp_path, template)
    two = {"ENVDOCTOR_NO_EXCHANGE": "1"}
    killed = cli("rollback killed at move#1 (before recover)", ["rollback", "--root", str(root)], expect="killed",
                 env={**two, "ENVDOCTOR_FAULT_AT": "move#1"})
    assert killed.returncode == -9
    args = ["recover", "--root", str(root)] + (["--reverse"] if reverse else [])
    again = cli(f"recover{' --reverse' if reverse else ''} killed at {second}", args, expect="killed",
                env={**two, "ENVDOCTOR_FAULT_AT": second})
    assert again.returncode in (-9, 0), again.stderr  # 0: the point was never reached on this path
    outcome = cli(f"recover after recover killed at {second}", args + ["--json"], expect="answer", env=two)
    assert outcome.returncode == 0, outcome.stderr
    assert _which(root, wholes) == ("current" if reverse else "backup")
    assert not Journal(Layout(str(root))).open_transactions()
    result = json.loads(outcome.stdout)
    assert "recovered" in result
