"""Strict validation of extracted results: exact types, real dates, enums; evidence checks."""

from __future__ import annotations

from typing import Any

import pytest

from callingbox.core.extraction.validation import (
    check_result,
    failed_fields,
    null_failed,
    verified_evidence,
)
from callingbox.core.returns_schema import to_json_schema

SCHEMA = to_json_schema({"confirmed": "boolean", "reschedule_to": "date", "party_size": "integer",
                         "starts_at": "datetime", "outcome": ["booked", "declined"], "notes": "string",
                         "amount": "number"})


def test_a_correctly_typed_result_passes() -> None:
    result = {"confirmed": True, "reschedule_to": "2026-03-04", "party_size": 4,
              "starts_at": "2026-03-04T15:00:00-05:00", "outcome": "booked", "notes": "window seat", "amount": 12.5}
    assert check_result(SCHEMA, result) == []
    assert check_result(SCHEMA, dict.fromkeys(result)) == []  # every shorthand field is nullable


@pytest.mark.parametrize(("field", "value"), [
    ("confirmed", "true"), ("confirmed", "yes"), ("confirmed", 1),
    ("reschedule_to", "2025-02-30"), ("reschedule_to", "March 4"), ("reschedule_to", "20260304"),
    ("reschedule_to", "2026-03-04T10:00:00Z"),
    ("party_size", "4"), ("party_size", 4.0), ("party_size", True), ("party_size", 4.5),
    ("starts_at", "2026-03-04T15:00:00"), ("starts_at", "2026-03-04 15:00"), ("starts_at", "2026-13-04T15:00:00Z"),
    ("outcome", "Booked"), ("outcome", "maybe"),
    ("notes", 7), ("amount", "12.5"),
])
def test_a_wrong_type_or_format_is_refused_and_pinned_to_its_field(field: str, value: Any) -> None:
    # GIVEN a result where one field is off WHEN checked THEN exactly that field fails
    result = {name: None for name in SCHEMA["properties"]} | {field: value}
    problems = check_result(SCHEMA, result)
    assert problems and {p.field for p in problems} == {field}, problems
    assert failed_fields(SCHEMA, problems) == {field}
    assert null_failed(SCHEMA, result, problems)[field] is None


def test_problems_are_readable_for_the_model() -> None:
    problems = check_result(SCHEMA, {"confirmed": "yes", "reschedule_to": "2025-02-30", "outcome": "maybe"})
    text = {p.field: str(p) for p in problems}
    assert text["confirmed"] == 'confirmed: "yes" is not of type boolean or null'
    assert "not a real date" in text["reschedule_to"]
    assert text["outcome"].startswith('outcome: "maybe" is not one of "booked", "declined"')


def test_full_schema_required_and_nested_problems() -> None:
    schema = {"type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": {"type": "string"},
                             "address": {"type": "object",
                                         "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}}}}
    problems = check_result(schema, {"address": {"zip": "ABC"}})
    assert {p.field for p in problems} == {"name", "address"}
    assert any("zip" in str(p) for p in problems)


def test_a_whole_result_problem_fails_every_field() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "minProperties": 3}
    problems = check_result(schema, {"a": "x", "b": "y"})
    assert [p.field for p in problems] == [None]
    assert failed_fields(schema, problems) == {"a", "b"}


def test_evidence_is_kept_only_when_the_transcript_says_it() -> None:
    transcript = [{"party": "agent", "text": "Is that confirmed?"},
                  {"party": "caller", "text": "Yes,  that works for me."}]
    evidence = {"confirmed": "yes, that works", "outcome": "I want to book", "notes": 12}
    kept = verified_evidence(evidence, {"confirmed": True, "outcome": "booked", "notes": "x"}, transcript)
    # matched ignoring case and spacing, returned as the transcript words it
    assert kept == {"confirmed": "Yes, that works"}
    # no evidence for a null field, even if quoted
    assert verified_evidence({"confirmed": "Yes"}, {"confirmed": None}, transcript) == {}
