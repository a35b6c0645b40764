"""A small JSON-schema checker for LLM output (the subset our schemas use).

Supports: type (string or list, incl. "null"), properties, required, enum,
items, additionalProperties=false, minimum/maximum. LLM output is never trusted:
anything not matching is rejected and the rules answer instead.
"""

from __future__ import annotations

import json
from typing import Any

from agent.llm.base import LLMInvalidOutput

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Errors (empty when ``value`` matches ``schema``)."""
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(value, t) for t in names):
            return [f"{path}: expected {'/'.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > maximum {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        for key, sub in value.items():
            if key in props:
                errors.extend(validate(sub, props[key], f"{path}.{key}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {key!r}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(validate(item, schema["items"], f"{path}[{i}]"))
    return errors


def parse_json(text: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """Parse a model's JSON answer and check it; raises :class:`LLMInvalidOutput`."""
    cleaned = text.strip()
    # Small models like to wrap JSON in a Markdown fence.
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`")
        if cleaned.lower().startswith("json"):
            cleaned = cleaned[4:]
    try:
        data = json.loads(cleaned)
    except (json.JSONDecodeError, ValueError) as exc:
        raise LLMInvalidOutput(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LLMInvalidOutput(f"expected a JSON object, got {type(data).__name__}")
    if schema is not None:
        errors = validate(data, schema)
        if errors:
            raise LLMInvalidOutput("schema mismatch: " + "; ".join(errors[:5]))
    return data
