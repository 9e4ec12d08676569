"""Issue 27.2: finding codes and smoke-test names are declared once (the rules' CODES, doctor's findings,
the smoke-test catalogue) and every other use refers to a declared one. Two guards over envdoctor's source:

- where a string literal stands for a finding code (a Finding's code, a comparison with `.code`, a
  module-level table of predictions), it must be a declared code;
- no code-shaped literal anywhere may be a near miss (one or two edits) of a declared code or test name:
  a typo such as "nvrtc-too-olde" in a table would otherwise pass every test that never reaches it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

from envdoctor.doctor.catalog import TEST_NAMES
from envdoctor.doctor.results import SKIP_REASONS
from tests.diagnose.test_every_code import declared_codes

PACKAGE = Path(__file__).resolve().parent.parent / "envdoctor"
SHAPE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")


def _sources() -> Iterator[Tuple[Path, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "scripts" not in path.relative_to(PACKAGE).parts:  # run by the runtime's Python, not envdoctor
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _strings(node: ast.AST) -> List[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_code_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "code"


def code_positions(tree: ast.AST) -> Iterator[str]:
    """Literals that stand for a finding code by where they are written."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Finding":
            if node.args and isinstance(node.args[0], ast.Constant):
                yield node.args[0].value
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    yield keyword.value.value
        elif isinstance(node, ast.Compare) and (_is_code_attribute(node.left)
                                                or any(_is_code_attribute(c) for c in node.comparators)):
            yield from (s for part in [node.left, *node.comparators] for s in _strings(part))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if any(n.endswith("PREDICTIONS") or n == "PREDICTION_TESTS" for n in names) and node.value is not None:
                value = node.value
                keys = value.keys if isinstance(value, ast.Dict) else [value]
                yield from (s for k in keys if k is not None for s in _strings(k))


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _declared() -> Set[str]:
    return declared_codes() | set(TEST_NAMES) | set(SKIP_REASONS)


def test_every_literal_in_a_code_position_is_a_declared_code() -> None:
    codes = declared_codes()
    stray = sorted({f"{path.relative_to(PACKAGE)}: {value}" for path, tree in _sources()
                    for value in code_positions(tree) if SHAPE.match(value) and value not in codes})
    assert stray == []


def test_no_literal_is_a_near_miss_of_a_declared_name() -> None:
    declared = _declared()
    near = sorted({f"{path.relative_to(PACKAGE)}: {value!r} ~ {name!r}" for path, tree in _sources()
                   for value in _strings(tree) if SHAPE.match(value) and value not in declared
                   for name in declared if abs(len(value) - len(name)) <= 2 and _distance(value, name) <= 2})
    assert near == []


def test_the_guards_catch_a_typo() -> None:
    tree = ast.parse('SV_PREDICTIONS = ("nvrtc-too-olde",)\nok = [f for f in x if f.code == "driver-okk"]\n')
    assert sorted(code_positions(tree)) == ["driver-okk", "nvrtc-too-olde"]
    assert any(_distance("nvrtc-too-olde", name) <= 2 for name in _declared())
