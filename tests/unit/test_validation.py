"""Pydantic failures become one error with a code and the field at fault."""

from __future__ import annotations

import pytest

from callingbox.core.errors import InvalidRequest
from callingbox.core.validation import parse_json, parse_params
from callingbox.types import AgentCreateParams, CallCreateParams, NumberCreateParams


def _error(model: type, body: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_params(model, body)
    return caught.value


def test_unknown_field() -> None:
    error = _error(CallCreateParams, {"agent_id": "agent_1", "to": "+14155550123", "colour": "red"})
    assert (error.code, error.param) == ("unknown_field", "colour")


def test_missing_field() -> None:
    assert (_error(CallCreateParams, {"to": "+14155550123"}).param) == "agent_id"
    assert _error(CallCreateParams, {"to": "+14155550123"}).code == "missing_field"


def test_bad_e164() -> None:
    error = _error(CallCreateParams, {"agent_id": "agent_1", "to": "415-555-0123"})
    assert (error.code, error.param) == ("invalid_value", "to")


def test_wrong_type_names_the_nested_field() -> None:
    error = _error(AgentCreateParams, {"name": "a", "type": "outbound", "tools": [{"name": 5}],
                                       "tool_url": "https://x.example"})
    assert (error.code, error.param) == ("invalid_type", "tools.0.name")


def test_cross_field_rule_names_the_field() -> None:
    error = _error(AgentCreateParams, {"name": "a", "type": "outbound", "tools": [{"name": "lookup"}]})
    assert error.param == "tool_url"


def test_metadata_limit() -> None:
    metadata = {f"k{i}": "v" for i in range(21)}
    error = _error(CallCreateParams, {"agent_id": "agent_1", "to": "+14155550123", "metadata": metadata})
    assert error.param == "metadata"


def test_alias_fields_are_named_as_sent() -> None:
    error = _error(NumberCreateParams, {"import": {"number": "+14155550123"}})
    assert error.param == "import.carrier_sid"


def test_body_must_be_an_object() -> None:
    assert _error(CallCreateParams, [1, 2]).code == "invalid_body"


def test_malformed_json() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json(b"{nope")
    assert caught.value.code == "invalid_json"
    assert parse_json(b"") == {}
