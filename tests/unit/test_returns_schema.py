"""The agent's ``returns`` schema in both forms."""

from __future__ import annotations

import pytest

from callingbox.core.errors import InvalidRequest
from callingbox.core.returns_schema import is_full_schema, to_json_schema, validate_returns


@pytest.mark.parametrize("returns", [
    {"confirmed": "boolean", "reschedule_to": "string"},
    {"count": "integer", "amount": "number", "day": "date", "at": "datetime"},
    {"outcome": ["confirmed", "rescheduled", "declined"]},
    {"type": "string"},  # a field *named* type stays shorthand
    {"type": "object", "properties": {"confirmed": {"type": "boolean"}}, "required": ["confirmed"]},
])
def test_valid_schemas_pass(returns: dict) -> None:
    validate_returns(returns)


@pytest.mark.parametrize("returns,param", [
    ({"confirmed": "bool"}, "returns.confirmed"),
    ({"outcome": []}, "returns.outcome"),
    ({"outcome": ["a", "a"]}, "returns.outcome"),
    ({"outcome": ["a", 1]}, "returns.outcome"),
    ({"bad name": "string"}, "returns.bad name"),
    ({}, "returns"),
    ({"type": "object", "properties": {"a": {"type": "nonsense"}}}, "returns"),
    ({"confirmed": {"type": "boolean"}}, "returns.confirmed"),
])
def test_invalid_schemas_name_the_field(returns: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_returns(returns)
    assert caught.value.param == param
    assert caught.value.code == "invalid_schema"


def test_shorthand_normalizes_to_nullable_json_schema() -> None:
    schema = to_json_schema({"confirmed": "boolean", "day": "date", "outcome": ["yes", "no"]})
    assert schema["properties"]["confirmed"] == {"type": ["boolean", "null"]}
    assert schema["properties"]["day"] == {"type": ["string", "null"], "format": "date"}
    assert schema["properties"]["outcome"] == {"enum": ["yes", "no", None]}
    assert schema["additionalProperties"] is False


def test_full_schema_is_kept_as_given() -> None:
    full = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert is_full_schema(full)
    assert to_json_schema(full) is full
