"""Validates `--json` envelopes against the JSON Schemas envdoctor publishes (envdoctor/schemas/*.json),
with the reference implementation of JSON Schema (a test dependency only: envdoctor never validates
its own output at run time)."""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Dict

from envdoctor import envelope

SCHEMAS = os.path.dirname(envelope.schema_path("check"))


@functools.cache
def _validators() -> Dict[str, Any]:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    documents = {}
    for name in sorted(os.listdir(SCHEMAS)):
        if name.endswith(".json"):
            with open(os.path.join(SCHEMAS, name), encoding="utf-8") as handle:
                documents[name[:-5]] = json.load(handle)
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents.values())
    validators = {}
    for name, doc in documents.items():
        Draft202012Validator.check_schema(doc)
        validators[name] = Draft202012Validator(doc, registry=registry)
    return validators


def published_commands() -> set:
    return set(_validators()) - {"common"}


def validate(payload: Dict[str, Any]) -> str:
    """Raise AssertionError naming every violation; return the command whose schema it followed."""
    schema = payload.get("schema", "")
    assert isinstance(schema, str) and schema.startswith("envdoctor."), f"not an envdoctor envelope: {schema!r}"
    command = schema.split(".", 1)[1]
    validators = _validators()
    assert command in validators, f"no published schema for {schema}"
    problems = sorted(validators[command].iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not problems, f"{schema} envelope breaks its schema:\n" + "\n".join(
        f"  at /{'/'.join(map(str, p.absolute_path))}: {p.message[:300]}" for p in problems[:10])
    assert payload["schema_version"] == envelope.SCHEMA_VERSIONS[command]
    return command
