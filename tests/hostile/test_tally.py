"""The tally itself: an exit code in 0..2 is not a right answer until the test's assertions pass, and
the suite's watch on the disk outside its temporary folders sees a write."""

from __future__ import annotations

import os

from tests.hostile import conftest as hostile


def _forget(*cases: str) -> None:
    for kind in hostile.CLASSES:
        hostile.TALLY[kind] = [c for c in hostile.TALLY.get(kind, []) if c not in cases]


def test_exit_zero_with_failed_assertions_is_a_wrong_answer() -> None:
    done = hostile.Outcome("tally: exit 0, wrong", 0, "{}", "", False)
    kept = hostile.Outcome("tally: exit 0, right", 0, "{}", "", False)
    error = hostile.Outcome("tally: clear error, wrong message", 3, "", "some other message", False)
    try:
        assert hostile.classify(done, "answer") == "exit-0..2"
        hostile.PENDING["t::wrong"] += [(done.case, "exit-0..2"), (error.case, hostile.classify(error, "error"))]
        hostile.PENDING["t::right"].append((kept.case, "exit-0..2"))
        hostile.settle("t::wrong", passed=False)
        hostile.settle("t::right", passed=True)
        assert done.case in hostile.TALLY["wrong-answer"] and done.case not in hostile.TALLY["right-answer"]
        assert error.case in hostile.TALLY["wrong-answer"] and error.case not in hostile.TALLY["clear-error"]
        assert kept.case in hostile.TALLY["right-answer"]
        assert {done.case, kept.case} <= set(hostile.TALLY["exit-0..2"])
        lines = hostile.tally_lines()
        assert any(line.startswith("right-answer (") for line in lines)
        assert any(line.startswith("exit-0..2 (") for line in lines)
    finally:
        _forget(done.case, kept.case, error.case)


def test_the_disk_watch_sees_a_write(tmp_path) -> None:
    (tmp_path / "a").write_text("1")
    before = hostile.tree_state(tmp_path)
    assert hostile.tree_state(tmp_path) == before
    os.utime(tmp_path / "a", ns=(1, 1))
    assert hostile.tree_state(tmp_path) != before
    (tmp_path / "b").mkdir()
    assert "b" in hostile.tree_state(tmp_path)


def test_children_get_the_suite_s_own_home() -> None:
    home = os.environ["HOME"]
    assert os.path.isdir(home) and home != os.path.expanduser("~root") and "outside" in home
