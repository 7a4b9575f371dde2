"""A validator for the subset of JSON Schema that docs/manifest.schema.json uses
(the same subset as the Swift tests' ``JSONSchema``), so tests need no package."""

from __future__ import annotations

import re

KNOWN = {"$schema", "$id", "$defs", "title", "description", "type", "required", "properties", "additionalProperties",
         "items", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern",
         "minItems", "maxItems", "$ref"}
TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def problems(value, schema: dict) -> list[str]:
    """One line per violation, naming the JSON path."""
    out: list[str] = []
    _check(value, schema, schema, "$", out)
    return out


def _check(v, s: dict, root: dict, path: str, out: list[str]) -> None:
    for key in s:
        if key not in KNOWN:
            out.append(f"{path}: unsupported schema keyword {key}")
    if "$ref" in s:
        _check(v, root["$defs"][s["$ref"].removeprefix("#/$defs/")], root, path, out)
    if "type" in s and not TYPES[s["type"]](v):
        out.append(f"{path}: expected {s['type']}, got {type(v).__name__}")
        return
    if "const" in s and not _equal(s["const"], v):
        out.append(f"{path}: must be {s['const']!r}")
    if "enum" in s and not any(_equal(o, v) for o in s["enum"]):
        out.append(f"{path}: {v!r} is not one of the allowed values")
    if TYPES["number"](v):
        for key, bad in (("minimum", lambda x, m: x < m), ("maximum", lambda x, m: x > m),
                         ("exclusiveMinimum", lambda x, m: x <= m), ("exclusiveMaximum", lambda x, m: x >= m)):
            if key in s and bad(v, s[key]):
                out.append(f"{path}: {v} violates {key} {s[key]}")
    if isinstance(v, str) and "pattern" in s and not re.search(s["pattern"], v):
        out.append(f"{path}: {v!r} does not match {s['pattern']}")
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", len(v)):
            out.append(f"{path}: {len(v)} items is outside [{s.get('minItems', 0)}, {s.get('maxItems', '∞')}]")
        if "items" in s:
            for i, item in enumerate(v):
                _check(item, s["items"], root, f"{path}[{i}]", out)
    if isinstance(v, dict):
        for key in s.get("required", []):
            if key not in v:
                out.append(f"{path}: missing required key {key}")
        props = s.get("properties", {})
        for key in sorted(v):
            if key in props:
                _check(v[key], props[key], root, f"{path}.{key}", out)
            elif s.get("additionalProperties") is False:
                out.append(f"{path}: unexpected key {key}")
