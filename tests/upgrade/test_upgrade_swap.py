"""The swap engine: from any arrangement of the two trees, `drive` reaches the goal; and an
interruption after any number of moves is finished by driving again."""

from __future__ import annotations

import itertools
import os

import pytest

from envdoctor.upgrade import swap
from envdoctor.upgrade.errors import UpgradeError
from envdoctor.upgrade.fsutil import can_exchange, identity
from envdoctor.upgrade.journal import Journal
from envdoctor.upgrade.layout import Layout
from envdoctor.upgrade.swap import FORWARD, REVERSE, SwapSpec, drive

EXCHANGE_MODES = [False] + ([True] if can_exchange(os.getcwd(), os.getcwd()) else [])


def setup(tmp_path, arrangement):
    """Three slots; put tree 'new' and 'old' into the slots named by arrangement (slot indexes)."""
    root = tmp_path / "b"
    root.mkdir()
    slots = [str(root / "runtime"), str(root / "incoming"), str(root / "parking")]
    trees = {}
    for name, slot in zip(("incoming", "outgoing"), arrangement):
        os.mkdir(slots[slot])
        with open(os.path.join(slots[slot], "who"), "w") as handle:
            handle.write(name)
        trees[name] = identity(slots[slot])
    spec = SwapSpec(slots[0], slots[1], trees["incoming"], slots[2], trees["outgoing"])
    return spec, Journal(Layout(str(root)))


def who(path):
    with open(os.path.join(path, "who")) as handle:
        return handle.read()


@pytest.mark.parametrize("exchange", EXCHANGE_MODES)
@pytest.mark.parametrize("direction", [FORWARD, REVERSE])
@pytest.mark.parametrize("arrangement", list(itertools.permutations(range(3), 2)))
def test_drive_reaches_the_goal_from_any_arrangement(tmp_path, arrangement, direction, exchange):
    spec, journal = setup(tmp_path, arrangement)
    drive(spec, direction, journal, "t", exchange)
    goal = swap.goal_of(spec, direction)
    assert who(goal["incoming"]) == "incoming" and who(goal["outgoing"]) == "outgoing"
    leftover = {spec.runtime, spec.incoming, spec.parking} - set(goal.values())
    assert not any(os.path.exists(p) for p in leftover)


@pytest.mark.parametrize("exchange", EXCHANGE_MODES)
@pytest.mark.parametrize("direction", [FORWARD, REVERSE])
@pytest.mark.parametrize("stop_after", [0, 1, 2, 3])
def test_interrupted_drive_resumes_and_runtime_never_empty_with_exchange(tmp_path, monkeypatch, direction,
                                                                         exchange, stop_after):
    spec, journal = setup(tmp_path, (1, 0))  # the start of an upgrade: old in runtime, new in incoming
    if direction == REVERSE:
        drive(spec, FORWARD, journal, "t", exchange)
    calls = {"n": 0}
    real_rename, real_exchange = swap.rename_durable, swap.exchange_durable

    def counted(real):
        def wrapper(a, b):
            if calls["n"] >= stop_after:
                raise KeyboardInterrupt  # stands in for the process dying between steps
            calls["n"] += 1
            real(a, b)
            if exchange:
                assert os.path.isdir(spec.runtime)
        return wrapper

    monkeypatch.setattr(swap, "rename_durable", counted(real_rename))
    monkeypatch.setattr(swap, "exchange_durable", counted(real_exchange))
    try:
        drive(spec, direction, journal, "t", exchange)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(swap, "rename_durable", real_rename)
    monkeypatch.setattr(swap, "exchange_durable", real_exchange)
    drive(spec, direction, journal, "t", exchange)
    goal = swap.goal_of(spec, direction)
    assert who(goal["incoming"]) == "incoming" and who(goal["outgoing"]) == "outgoing"


def test_a_missing_tree_stops_everything(tmp_path):
    spec, journal = setup(tmp_path, (1, 0))
    os.rename(spec.incoming, spec.incoming + "-gone")
    with pytest.raises(UpgradeError) as err:
        drive(spec, FORWARD, journal, "t", False)
    assert err.value.key == "upgrade.error.tree_missing"
    assert who(spec.runtime) == "outgoing"  # nothing was moved


def test_journal_ignores_a_torn_last_line(tmp_path):
    journal = Journal(Layout(str(tmp_path)))
    journal.append("a", "begin", kind="upgrade")
    with open(journal.path, "a") as handle:
        handle.write('{"tx": "a", "event": "comm')
    assert [r["event"] for r in journal.records()] == ["begin"]
    assert [t.txid for t in journal.open_transactions()] == ["a"]
