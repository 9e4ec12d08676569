"""Change scalar values under the top-level `custom:` mapping of tts_infer.yaml, line by line.

Re-dumping the YAML would reorder keys and drop comments; editing only the lines that change keeps the
rest of the file byte-identical. The result is parsed again and compared with the intended data, so a
layout this editor does not understand is refused instead of written wrong.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

SECTION = "custom"
_SECTION_LINE = re.compile(r"^custom:[ \t]*(#.*)?$")
_KEY_LINE = re.compile(r"^(?P<indent>[ \t]+)(?P<key>[A-Za-z_][\w.-]*):(?P<gap>[ \t]*)(?P<value>[^#\r\n]*?)"
                       r"(?P<tail>[ \t]+#.*)?$")


class YamlMalformed(Exception):
    """The file is not valid YAML (a hard error: configure changes nothing)."""


class YamlTooComplex(YamlMalformed):
    """Past a bound of the reader (size, nesting, aliases): no GPT-SoVITS configuration looks like that."""


class YamlLayoutUnsupported(Exception):
    """Valid YAML, but `custom` is not a block mapping this editor can change line by line."""


def load(text: str) -> Dict[str, Any]:
    import yaml  # here, not at the top: `envdoctor check` imports this module (mitigations) without parsing YAML

    from envdoctor.fileio import safeyaml

    try:
        data = safeyaml.safe_load(text)  # bounded: an alias bomb or deep nesting is refused, not walked
    except safeyaml.YamlTooComplex as exc:
        raise YamlTooComplex(str(exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlMalformed(str(exc)) from exc
    if not isinstance(data, dict):
        raise YamlMalformed("top level is not a mapping")
    return data


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def current(text: str) -> Dict[str, Any]:
    section = load(text).get(SECTION)
    return dict(section) if isinstance(section, dict) else {}


def set_custom(text: str, newline: str, values: Dict[str, Any]) -> str:
    """TEXT with custom.<key> set to each value; other bytes unchanged. Raises YamlMalformed/Unsupported."""
    before = load(text)
    if not values:
        return text
    if not isinstance(before.get(SECTION), dict):
        raise YamlLayoutUnsupported("no 'custom:' mapping")
    lines: List[str] = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _SECTION_LINE.match(line.rstrip("\r\n"))), None)
    if start is None:
        raise YamlLayoutUnsupported("'custom:' is not a block mapping at the top level")
    indent: Optional[str] = None
    last_key = start
    found: Dict[str, int] = {}
    for index in range(start + 1, len(lines)):
        body = lines[index].rstrip("\r\n")
        if not body.strip() or body.lstrip().startswith("#"):
            continue
        if not body[0].isspace():
            break  # the next top-level key
        match = _KEY_LINE.match(body)
        if match is None:
            continue  # a continuation or nested line: not ours to touch
        if indent is None:
            indent = match.group("indent")
        if match.group("indent") != indent:
            continue
        last_key = index
        found[match.group("key")] = index
    indent = indent or "  "
    inserts: List[str] = []
    for key, value in values.items():
        text_value = scalar(value)
        if key in found:
            index = found[key]
            raw = lines[index]
            ending = raw[len(raw.rstrip("\r\n")):]
            match = _KEY_LINE.match(raw.rstrip("\r\n"))
            assert match is not None
            gap = match.group("gap") or " "
            lines[index] = f"{indent}{key}:{gap}{text_value}{match.group('tail') or ''}{ending}"
        else:
            inserts.append(f"{indent}{key}: {text_value}{newline}")
    if inserts:
        if not lines[last_key].endswith(("\n", "\r")):
            lines[last_key] += newline
        lines[last_key + 1:last_key + 1] = inserts
    result = "".join(lines)
    expected = dict(before)
    expected[SECTION] = dict(before[SECTION], **values)
    if load(result) != expected:
        raise YamlLayoutUnsupported("the edited file would not read back as intended")
    return result
