"""An agent's analysis schema: the fields post-call analysis extracts from a call's
transcript, as a small subset of JSON schema that every text model's structured output
accepts:

    {"type": "object",
     "properties": {"appointment_booked": {"type": "boolean"},
                    "callback_time": {"type": "string", "description": "ISO 8601"}},
     "required": ["appointment_booked"]}

Each property has a ``type`` of string, boolean, integer, number, or array (of one of those),
and may have a ``description`` (what the model is told) and an ``enum``. A shorthand of names
and types (``{"appointment_booked": "boolean"}``) is accepted and stored in the full form. The
names the analysis always has (summary, sentiment, goal_reached) cannot be reused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators

__all__ = [
    "ANALYSIS_RESERVED_FIELDS",
    "MAX_ANALYSIS_FIELDS",
    "analysis_schema_clean",
]

ANALYSIS_RESERVED_FIELDS = ("summary", "sentiment", "goal_reached")
MAX_ANALYSIS_FIELDS = 30
_SIMPLE_TYPES = ("string", "boolean", "integer", "number")
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_PROPERTY_KEYS = frozenset({"type", "description", "enum", "items"})


def _property(name: str, value: Any, problems: list[str]) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping):
        problems.append(f"{name}: give a type such as {{'type': 'boolean'}}.")
        return None
    extra = sorted(set(value) - _PROPERTY_KEYS)
    if extra:
        problems.append(f"{name}: only type, description, enum and items are allowed ({extra[0]}).")
        return None
    kind = value.get("type")
    out: dict[str, Any] = {"type": kind}
    if kind == "array":
        items = value.get("items")
        if not (
            isinstance(items, Mapping) and items.get("type") in _SIMPLE_TYPES and len(items) == 1
        ):
            problems.append(f"{name}: an array needs items of one type, e.g. {{'type': 'string'}}.")
            return None
        out["items"] = {"type": items["type"]}
    elif kind not in _SIMPLE_TYPES:
        problems.append(
            f"{name}: type must be one of {', '.join((*_SIMPLE_TYPES, 'array'))}, not {kind!r}."
        )
        return None
    elif "items" in value:
        problems.append(f"{name}: items is only for arrays.")
        return None
    description = value.get("description")
    if description is not None:
        if not isinstance(description, str) or len(description) > 500:
            problems.append(f"{name}: description must be text of at most 500 characters.")
            return None
        out["description"] = description.strip()
    if "enum" in value:
        enum = value["enum"]
        if not isinstance(enum, list) or not enum or len(enum) > 50:
            problems.append(f"{name}: enum must be a list of 1 to 50 values.")
            return None
        out["enum"] = enum
    return out


def analysis_schema_clean(value: Any) -> tuple[dict[str, Any], list[str]]:
    """The schema in its full form, and what is wrong with it (empty when nothing). ``{}``
    (or None) means no fields of the agent's own."""
    if value in (None, {}, ""):
        return {}, []
    if not isinstance(value, Mapping):
        return {}, ["Give a JSON object: a schema with properties, or names and types."]
    problems: list[str] = []
    full = "properties" in value or value.get("type") == "object"
    if full:
        if value.get("type", "object") != "object":
            return {}, ['The root must be {"type": "object", "properties": {...}}.']
        extra = sorted(set(value) - {"type", "properties", "required"})
        if extra:
            return {}, [f"Only type, properties and required are allowed at the root ({extra[0]})."]
        properties = value.get("properties") or {}
        required = value.get("required", [])
    else:
        properties, required = value, []
    if not isinstance(properties, Mapping):
        return {}, ["properties must be an object of field names and their types."]
    if len(properties) > MAX_ANALYSIS_FIELDS:
        problems.append(f"At most {MAX_ANALYSIS_FIELDS} fields.")
    cleaned: dict[str, Any] = {}
    for name, spec in properties.items():
        name = str(name)
        if not _NAME_RE.match(name):
            problems.append(f"{name[:70]!r}: a field name is lower-case letters, digits and _.")
            continue
        if name in ANALYSIS_RESERVED_FIELDS:
            problems.append(f"{name}: the analysis always has this field; choose another name.")
            continue
        prop = _property(name, spec, problems)
        if prop is not None:
            cleaned[name] = prop
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        problems.append("required must be a list of field names.")
        required = []
    unknown = [r for r in required if r not in properties]
    if unknown:
        problems.append(f"required names {unknown[0]!r}, which is not a field.")
    schema: dict[str, Any] = {"type": "object", "properties": cleaned}
    if required:
        schema["required"] = sorted(set(required))
    if not problems:
        try:
            validators.Draft202012Validator.check_schema(schema)
        except jsonschema_exceptions.SchemaError as exc:  # e.g. an enum of repeated values
            problems.append(f"Not a valid JSON schema: {exc.message}")
    return (schema if not problems else {}), problems
