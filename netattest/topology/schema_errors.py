"""JSON Schema errors in the user's terms: the most useful one, at the right line, with a fix.

jsonschema reports every violation with its own wording (``'x' is not of type 'string'``); the loader reports one,
chosen so the first thing a user fixes is the thing that explains the rest (apiVersion/kind first, then wrong
values in file order, then missing fields), and worded like every other topology error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema

from .schema import TOPOLOGY_SCHEMA
from .wording import Path, _choose, _describe, _oneline, _q, _suggest, format_path, make_error

_VALIDATOR = jsonschema.Draft202012Validator(TOPOLOGY_SCHEMA)


def line_of(lines: Mapping[Path, int], path: Path) -> int | None:
    """Line of a field, or of its nearest present ancestor (a missing field is reported at its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def check_schema(data: dict[str, Any], lines: Mapping[Path, int], texts: Mapping[Path, str], source: str) -> None:
    """Validate structure; report the most useful error: apiVersion/kind first, then wrong values in file order,
    then missing fields (an unknown key often explains a missing one, so it comes first)."""
    errors = list(_VALIDATOR.iter_errors(data))
    if not errors:
        return
    error = min(errors, key=lambda e: _rank(e, lines))
    path, problem, fix = _translate(error, texts)
    raise make_error(source, line_of(lines, path), path, problem, fix)


def _rank(error: jsonschema.ValidationError, lines: Mapping[Path, int]) -> tuple[int, int, int, int]:
    path = tuple(error.absolute_path)
    required = error.validator == "required"
    missing = _missing_key(error) if required else None
    header = path[:1] in (("apiVersion",), ("kind",)) or (not path and missing in ("apiVersion", "kind"))
    return (0 if header else 1, 1 if required else 0, line_of(lines, path) or 0, len(path))


def _missing_key(error: jsonschema.ValidationError) -> str:
    return next(k for k in error.validator_value if k not in error.instance and repr(k) in error.message)


def _translate(error: jsonschema.ValidationError, texts: Mapping[Path, str]) -> tuple[Path, str, str]:
    """A jsonschema error as (field path, problem, fix) in the user's terms."""
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    what = schema.get("x-what") or "value"
    kind = error.validator
    if kind == "additionalProperties":
        return _unknown_key(path, value, schema)
    if kind == "required":
        key = _missing_key(error)
        sub = schema.get("properties", {}).get(key, {})
        example = sub.get("x-example")
        hint = f" ({sub['description']})" if "description" in sub else ""
        fix = f"add {key}: {example}" if example is not None else f"add '{key}'{hint}"
        return path + (key,), f"missing required field '{key}'{hint}", fix
    if kind == "type":
        return path, *_type_problem(value, error.validator_value, texts.get(path))
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        return path, f"unknown {what} {_q(value)}", _choose(value, options)
    if kind == "const":
        return (
            path,
            f"unsupported {what} {_q(value)}",
            f"set {path[-1] if path else what}: {error.validator_value}",
        )
    if kind in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return path, f"{what} {value} is out of range {low}-{high}", f"use a value from {low} to {high}"
    if kind == "minLength":
        return path, "the value is empty", "write a value, or remove the field if it is optional"
    if kind == "minItems":
        return path, "the list is empty", f"list at least {error.validator_value} entry"
    return path, _oneline(error.message), "see the topology format in docs (ARCHITECTURE.md section 3)"


def _unknown_key(path: Path, value: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[Path, str, str]:
    allowed = list(schema.get("properties", {}))
    key = next(str(k) for k in value if k not in allowed)
    where = f"in {format_path(path)}" if path else "at the top level"
    guess = _suggest(key, allowed)
    fix = f"did you mean '{guess}'? Rename it" if guess else "remove it"
    return path + (key,), f"unknown field '{key}' {where}", f"{fix} (allowed here: {', '.join(allowed)})"


_JSON_TYPES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping (key: value)",
}


def _type_problem(value: Any, expected: str | Sequence[str], text: str | None) -> tuple[str, str]:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    want = " or ".join(_JSON_TYPES.get(t, t) for t in wanted)
    problem = f"expected {want}, got {_describe(value)}"
    if value is None:
        return problem, "write a value after the colon, or remove the line"
    if "string" in wanted and isinstance(value, (bool, int, float)):
        shown = text if text is not None else str(value)
        return problem, f'quote it: "{shown}" (YAML reads unquoted yes/no/on/off/true/false and numbers as such)'
    if "array" in wanted:
        return problem, "write a YAML list: one '- item' per line, or [a, b]"
    if "object" in wanted:
        return problem, "write 'key: value' lines indented under the field"
    return problem, f"write {want} here"
