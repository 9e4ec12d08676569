"""A small validator for a JSON-Schema subset, over YAML that remembers line numbers.

jsonschema would be one more dependency for the zipapp; this covers what matrices/schema.yaml
uses and, unlike jsonschema on plain dicts, can name the line of the offending field.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

import yaml

ALWAYS_ALLOWED = ("notes", "verified")


class LineDict(dict):
    line: int = 0
    key_lines: Dict[str, int]


class LineList(list):
    line: int = 0
    item_lines: List[int]


def _base_loader() -> type:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineLoader(_base_loader()):  # type: ignore[misc]
    """SafeLoader whose mappings and sequences carry the (1-based) line they start on."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_with_lines(text: str) -> Any:
    return yaml.load(text, Loader=LineLoader)  # noqa: S506 - LineLoader is a SafeLoader


class SchemaViolation(Exception):
    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"line {line}: {path or '<top>'}: {message}")
        self.path = path
        self.line = line
        self.message = message


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Validator:
    def __init__(self, root_schema: Dict[str, Any]) -> None:
        self.root = root_schema

    def _resolve(self, schema: Dict[str, Any]) -> Dict[str, Any]:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref}")
            node: Any = self.root
            for part in ref[2:].split("/"):
                node = node[part]
            schema = node
        return schema

    def validate(self, value: Any, schema: Dict[str, Any], path: str = "", line: int = 1) -> None:
        schema = self._resolve(schema)
        line = getattr(value, "line", line) or line
        wanted = schema.get("type")
        if wanted is not None:
            types = wanted if isinstance(wanted, list) else [wanted]
            if not any(_TYPES[t](value) for t in types):
                raise SchemaViolation(path, line, f"expected {' or '.join(types)}, got {_describe(value)}")
        if "enum" in schema and value not in schema["enum"]:
            raise SchemaViolation(path, line, f"must be one of {schema['enum']}, got {value!r}")
        if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaViolation(path, line, f"{value!r} does not match {schema['pattern']!r}")
        if isinstance(value, dict):
            self._validate_object(value, schema, path, line)
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                raise SchemaViolation(path, line, f"needs at least {schema['minItems']} item(s)")
            if "items" in schema:
                item_lines = getattr(value, "item_lines", [])
                for index, item in enumerate(value):
                    item_line = item_lines[index] if index < len(item_lines) else line
                    self.validate(item, schema["items"], f"{path}[{index}]", item_line)

    def _validate_object(self, value: Dict[str, Any], schema: Dict[str, Any], path: str, line: int) -> None:
        key_lines = getattr(value, "key_lines", {})
        for key in schema.get("required", []):
            if key not in value:
                raise SchemaViolation(_join(path, key), line, "required field is missing")
        properties = schema.get("properties", {})
        for key, item in value.items():
            key_line = key_lines.get(str(key), line)
            if key in properties:
                self.validate(item, properties[key], _join(path, key), key_line)
            elif key in ALWAYS_ALLOWED:
                continue
            elif schema.get("additionalProperties", True) is False:
                raise SchemaViolation(_join(path, str(key)), key_line, "unknown field")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    return type(value).__name__.replace("Line", "").lower()


def file_schema(root_schema: Dict[str, Any], filename: str) -> Optional[Dict[str, Any]]:
    return root_schema.get("files", {}).get(filename)
