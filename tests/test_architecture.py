"""The package layering holds: no two parts of envdoctor (subpackages and top-level modules) import each
other, directly or round a loop, at module level or inside a function. A cycle means a part can no
longer be understood (or tested) without the other; where one appears, the shared piece belongs lower."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parent.parent / "envdoctor"


def _part(module: str) -> str:
    """envdoctor.probes.collect -> probes; envdoctor.check.pipeline -> pipeline."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph() -> Dict[str, Set[str]]:
    edges: Dict[str, Set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent)
        if "scripts" in relative.parts:  # run by the target runtime's Python, never imported by envdoctor
            continue
        source = _part(".".join(relative.with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: List[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "envdoctor":
                    targets = [f"envdoctor.{alias.name}" for alias in node.names]
                elif node.module.startswith("envdoctor."):
                    targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("envdoctor.")]
            for target in targets:
                part = _part(target)
                if part != source and part != "envdoctor":
                    edges.setdefault(source, set()).add(part)
    return edges


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_package_cycles() -> None:
    edges = import_graph()
    assert {"cli", "probes", "diagnose", "report", "doctor", "gptsovits", "upgrade"} <= set(edges)
    loops = cycles(edges)
    detail = "; ".join(" <-> ".join(f"{p} -> {sorted(edges[p] & set(loop))}" for p in loop) for loop in loops)
    assert not loops, f"package cycles: {detail}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_each_package_says_who_may_import_it() -> None:
    """Issue 27.5: each package's __init__ docstring names the parts that may import it ("May be imported
    by: ..."); an import from anywhere else fails here, so the docstring stays the truth."""
    edges = import_graph()
    users: Dict[str, Set[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            users.setdefault(target, set()).add(source)
    parts = set(edges) | set(users)
    wrong = {}
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        package = init.parent.name
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        line = next((line for line in doc.replace("\n", " ").split(". ") if "May be imported by:" in line), None)
        assert line is not None, f"{package}/__init__.py does not say who may import it"
        allowed = {word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line.split("May be imported by:", 1)[1])
                   if word in parts}
        allowed.add("__main__")
        extra = users.get(package, set()) - allowed
        if extra:
            wrong[package] = sorted(extra)
    assert wrong == {}, f"imported by parts its docstring does not name: {wrong}"
