"""No field slips into an envelope unchecked: every object in the published schemas lists its properties
and refuses others, or says in a `description` why it is open (a map keyed by data, a message's
parameters). The envelope validation in tests/conftest.py then catches any field the code adds without
declaring it, at any depth."""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Iterator, List, Tuple

import pytest

from envdoctor import envelope
from envdoctor.model import to_jsonable
from envdoctor.upgrade.plan import Note, Plan, Target
from tests.support.envelopes import SCHEMAS, validate

# Subschemas that apply to the same instance as their parent: a property they name is still checked by
# the parent's additionalProperties / unevaluatedProperties. (`if` only tests, `not` only refuses.)
IN_PLACE = ("allOf", "anyOf", "oneOf")
CONSTRAINING = ("$ref", "const", "enum", "anyOf", "oneOf", "allOf")


def _types(node: dict) -> List[str]:
    kind = node.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def open_nodes(node: Any, path: str = "#", closed_above: bool = False) -> Iterator[Tuple[str, str]]:
    """(path, why) of every schema node that lets an undeclared field or item through without a
    `description` that says why."""
    if node is True or node == {}:
        yield path, "accepts anything"
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    closes = node.get("additionalProperties") is False or node.get("unevaluatedProperties") is False
    described = bool(node.get("description"))
    object_like = "object" in types or "properties" in node or (
        not types and not any(key in node for key in CONSTRAINING))
    if object_like and not closes and not closed_above and not described:
        yield path, "an object open to any field"
    if "array" in types and "items" not in node and "prefixItems" not in node and not described:
        yield path, "an array of anything"
    for key in ("properties", "patternProperties", "$defs"):
        for name, sub in (node.get(key) or {}).items():
            yield from open_nodes(sub, f"{path}/{key}/{name}")
    for key in ("additionalProperties", "items"):
        if isinstance(node.get(key), dict):
            yield from open_nodes(node[key], f"{path}/{key}")
    for index, sub in enumerate(node.get("prefixItems") or []):
        yield from open_nodes(sub, f"{path}/prefixItems/{index}")
    inner_closed = closes or closed_above
    for key in ("then", "else"):
        if key in node:
            yield from open_nodes(node[key], f"{path}/{key}", inner_closed)
    for key in IN_PLACE:
        for index, sub in enumerate(node.get(key) or []):
            yield from open_nodes(sub, f"{path}/{key}/{index}", inner_closed)


def _schema_files() -> List[str]:
    return sorted(name for name in os.listdir(SCHEMAS) if name.endswith(".json"))


def test_every_schema_file_is_walked() -> None:
    assert {name[:-5] for name in _schema_files()} == set(envelope.SCHEMA_VERSIONS) | {"common"}


@pytest.mark.parametrize("name", _schema_files())
def test_no_object_is_open_without_saying_why(name: str) -> None:
    with open(os.path.join(SCHEMAS, name), encoding="utf-8") as handle:
        schema = json.load(handle)
    found = [f"{path}: {why}" for path, why in open_nodes(schema)]
    assert not found, f"{name}: close these (additionalProperties: false) or say why they are open:\n  " + \
        "\n  ".join(found)


def test_the_walk_finds_what_is_open() -> None:
    """The guard itself: each way a schema can be open is found; closed and explained ones are not."""
    schema = {
        "type": "object", "properties": {
            "plan": {"type": "object"},  # open
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},  # a map, not explained
            "anything": {},  # any value
            "list": {"type": "array"},  # items of any shape
            "nested": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"a": {"type": "string"}}}]},
            "fine": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
            "explained": {"type": "object", "additionalProperties": {"type": "string"}, "description": "keyed by name"},
            "ref": {"$ref": "urn:x#/$defs/y"},
        },
        "if": {"required": ["error"]}, "then": {"required": ["error"]}, "else": {"properties": {"x": {"const": 1}}},
        "unevaluatedProperties": False,
    }
    assert sorted(path for path, _ in open_nodes(schema)) == [
        "#/properties/anything", "#/properties/list", "#/properties/map", "#/properties/nested/anyOf/1",
        "#/properties/plan"]


def _upgrade_plan_envelope() -> dict:
    """A real upgrade --dry-run envelope's shape, from a real Plan (the dataclass the command prints)."""
    target = Target("2.8.0+cu128", "2.8.0+cu128", None, "cu128", "12.8", "570.65", True, (("torchcodec", ">=0.7"),))
    plan = Plan("ok", {"torch": "2.1.0+cu118", "torchaudio": None}, target, "https://example.invalid/whl/cu128", None,
                ("numpy<2",), ("numpy==1.26.4",), (Note("slow_source", {"seconds": 3}),))
    out = envelope.write("upgrade", "en", 0, {"dry_run": True, "status": plan.status, "summary": "planned",
                                              "plan": to_jsonable(plan), "blockers": [], "missing": [],
                                              "check_notes": [], "resolution": None, "interrupted": None})
    validate(out)
    return out


@pytest.mark.parametrize("where", [
    ("plan",), ("plan", "target"), ("plan", "notes", 0),
])
def test_a_field_slipping_into_the_upgrade_plan_breaks_the_schema(where: tuple) -> None:
    payload = copy.deepcopy(_upgrade_plan_envelope())
    node = payload
    for step in where:
        node = node[step]
    node["surprise"] = 1
    with pytest.raises(AssertionError, match="surprise"):
        validate(payload)


def test_a_field_slipping_into_the_facts_breaks_the_schema() -> None:
    payload = envelope.write("check", "en", 0, {
        "verdict": "ready", "summary": "", "gpus": [], "findings": [], "matrix": "", "timings_ms": {},
        "facts": {"gpu": {"gpus": [], "driver": None, "attempts": []}, "runtime": None, "torch": None}})
    validate(payload)
    for where in ("facts", "gpu"):
        broken = copy.deepcopy(payload)
        (broken["facts"] if where == "facts" else broken["facts"]["gpu"])["surprise"] = 1
        with pytest.raises(AssertionError, match="surprise"):
            validate(broken)
