"""Every finding code a rule can emit is declared in that rule's CODES, and every declared code has its
title, detail and fix in both catalogues (read from the source, so a new `Finding("...")` that nobody
declared fails here, not in front of a user as a missing-message key)."""

from __future__ import annotations

import ast
import inspect
import re
from typing import Dict, Set

import pytest

from envdoctor.diagnose.rules import ALL_RULES
from envdoctor.i18n import catalogue

CODE_SHAPE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
ENGINE_CODES = {"rule-crashed"}  # the engine's own finding for a rule that raised


def _strings(node: ast.AST) -> Set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def emitted_codes(module) -> Set[str]:
    """The codes a rule module passes to Finding(...): literals, and for a variable, the code-shaped
    strings in what the enclosing function assigns to it."""
    tree = ast.parse(inspect.getsource(module))
    codes: Set[str] = set()
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        assigned: Dict[str, Set[str]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    for name in names:
                        if isinstance(name, ast.Name):
                            assigned.setdefault(name.id, set()).update(_strings(node.value))
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding" and node.args):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant):
                codes.add(first.value)
            elif isinstance(first, ast.Name):
                found = {s for s in assigned.get(first.id, set()) if CODE_SHAPE.match(s)}
                assert found, f"{module.__name__}: cannot tell which codes {first.id} holds"
                codes |= found
            else:
                pytest.fail(f"{module.__name__}: Finding's code is neither a literal nor a variable")
    return codes


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.__name__.rsplit(".", 1)[1] for r in ALL_RULES])
def test_every_emitted_code_is_declared_by_its_rule(rule) -> None:
    emitted = emitted_codes(rule)
    assert emitted, f"{rule.__name__} emits no finding?"
    undeclared = emitted - set(rule.CODES)
    assert not undeclared, f"{rule.__name__} emits {sorted(undeclared)} without declaring them in CODES"
    unused = set(rule.CODES) - emitted
    assert not unused, f"{rule.__name__} declares {sorted(unused)} but never emits them"


def test_codes_are_unique_to_one_rule_and_shaped_alike() -> None:
    owners: Dict[str, str] = {}
    for rule in ALL_RULES:
        for code in rule.CODES:
            assert CODE_SHAPE.match(code), code
            assert code not in owners or owners[code] == rule.__name__, f"{code}: {owners[code]} and {rule.__name__}"
            owners[code] = rule.__name__


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_declared_code_is_documented_in_the_catalogue(lang: str) -> None:
    messages = catalogue(lang)
    codes = {code for rule in ALL_RULES for code in rule.CODES} | ENGINE_CODES
    missing = sorted(f"finding.{c}.{part}" for c in codes for part in ("title", "detail", "fix")
                     if f"finding.{c}.{part}" not in messages)
    assert not missing, f"{lang} lacks {missing}"
