"""The agent's ``returns`` schema: the shorthand and full JSON Schema forms, validated and normalized.

Shorthand: ``{"confirmed": "boolean", "reschedule_to": "date", "outcome": ["yes", "no"]}``.
Full form: a JSON Schema object with ``"type": "object"`` and ``"properties"``.
Both normalize to one JSON Schema, which extraction later fills and validates against.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidRequest

__all__ = ["SHORTHAND_TYPES", "validate_returns", "to_json_schema", "check_json_schema", "is_full_schema"]

SHORTHAND_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_FIELDS = 50


def is_full_schema(returns: dict[str, Any]) -> bool:
    """True for the JSON Schema form; the shorthand never has an ``object``-typed ``type`` key."""
    return returns.get("type") == "object" and isinstance(returns.get("properties"), dict)


def check_json_schema(schema: Any, *, param: str) -> None:
    """Raise :class:`InvalidRequest` unless ``schema`` is a valid JSON Schema (2020-12)."""
    if not isinstance(schema, dict):
        raise InvalidRequest("must be a JSON Schema object", param=param, code="invalid_schema")
    # jsonschema is imported here, not at module import: most requests never need it.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise InvalidRequest(f"is not a valid JSON Schema: {error.message}", param=param,
                             code="invalid_schema") from None


def _check_shorthand(returns: dict[str, Any], *, param: str) -> None:
    if not returns:
        raise InvalidRequest("must declare at least one field", param=param, code="invalid_schema")
    if len(returns) > MAX_FIELDS:
        raise InvalidRequest(f"may declare at most {MAX_FIELDS} fields", param=param, code="invalid_schema")
    for name, kind in returns.items():
        where = f"{param}.{name}"
        if not _FIELD_NAME.match(name):
            raise InvalidRequest("field names must be identifiers (letters, digits, _)", param=where,
                                 code="invalid_schema")
        if isinstance(kind, list):
            if not kind or not all(isinstance(item, str) and item for item in kind):
                raise InvalidRequest("an enum must be a non-empty list of strings", param=where,
                                     code="invalid_schema")
            if len(set(kind)) != len(kind):
                raise InvalidRequest("enum values must be unique", param=where, code="invalid_schema")
        elif not isinstance(kind, str) or kind not in SHORTHAND_TYPES:
            allowed = ", ".join(SHORTHAND_TYPES)
            raise InvalidRequest(f"unknown type {kind!r}; use one of {allowed} or a list of allowed values",
                                 param=where, code="invalid_schema")


def validate_returns(returns: dict[str, Any] | None, *, param: str = "returns") -> None:
    """Raise :class:`InvalidRequest` naming the field at fault unless ``returns`` is usable."""
    if returns is None:
        return
    if is_full_schema(returns):
        check_json_schema(returns, param=param)
        for name in returns["properties"]:
            if not _FIELD_NAME.match(name):
                raise InvalidRequest("property names must be identifiers (letters, digits, _)",
                                     param=f"{param}.properties.{name}", code="invalid_schema")
        return
    _check_shorthand(returns, param=param)


def to_json_schema(returns: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema that an extracted result must satisfy (every field nullable)."""
    if is_full_schema(returns):
        return returns
    properties: dict[str, Any] = {}
    for name, kind in returns.items():
        if isinstance(kind, list):
            properties[name] = {"enum": [*kind, None]}
        else:
            base = dict(SHORTHAND_TYPES[kind])
            base["type"] = [base["type"], "null"]
            properties[name] = base
    return {"type": "object", "properties": properties, "additionalProperties": False}
