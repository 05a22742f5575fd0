"""The builtin extractor on transcripts made exactly as the gateway's builtin dialogue speaks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from callingbox.core.answers import question_for
from callingbox.core.extraction.base import CallFacts
from callingbox.core.extraction.builtin import BuiltinExtractor
from callingbox.core.extraction.validation import check_result
from callingbox.core.returns_schema import to_json_schema
from tests.extraction.helpers import dialogue_transcript

TODAY = dt.date(2026, 11, 22)  # a Sunday
RETURNS = {"confirmed": "boolean", "reschedule_to": "date", "party_size": "integer",
           "outcome": ["booked", "declined"], "caller_name": "string"}


def _extract(returns: dict[str, Any], segments: list[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = to_json_schema(returns)
    transcript = [{"party": party, "text": text, "start_ms": 0, "end_ms": 0, "interrupted": False}
                  for party, text in segments]
    raw = BuiltinExtractor().extract(schema, transcript, facts=CallFacts(call_date=TODAY))
    assert check_result(schema, raw.values) == []
    return raw.values, raw.evidence


def test_typed_values_exactly_as_returns_declares_with_quotes_from_the_transcript() -> None:
    # GIVEN a whole builtin-dialogue call (greeting, five questions, confirmation, goodbye)
    segments = dialogue_transcript(RETURNS, ["yeah that's right", "next friday", "four of us", "it was booked",
                                             "my name is dana scully", "yes"], today=TODAY)
    # WHEN the builtin extractor reads it
    result, evidence = _extract(RETURNS, segments)
    # THEN each field has the declared type (true, not "yes"; an ISO date; an integer; an option)
    assert result == {"confirmed": True, "reschedule_to": "2026-11-27", "party_size": 4, "outcome": "booked",
                      "caller_name": "Dana Scully"}
    assert result["confirmed"] is True
    # AND every quote is a caller segment, word for word
    caller_lines = [text for party, text in segments if party == "caller"]
    assert evidence == {"confirmed": "yeah that's right", "reschedule_to": "next friday",
                        "party_size": "four of us", "outcome": "it was booked", "caller_name": "my name is dana scully"}
    assert all(quote in caller_lines for quote in evidence.values())


def test_a_reasked_field_takes_the_answer_the_dialogue_understood() -> None:
    # GIVEN an answer the dialogue did not understand, then the re-asked answer
    returns = {"party_size": "integer", "confirmed": "boolean"}
    segments = dialogue_transcript(returns, ["hmm", "six", "sure", "yes"], today=TODAY)
    assert sum(question_for("party_size", {"type": "integer"}) in text for _, text in segments) == 2
    result, evidence = _extract(returns, segments)
    assert result == {"party_size": 6, "confirmed": True}
    assert evidence["party_size"] == "six"


def test_a_field_never_understood_is_null_without_evidence() -> None:
    returns = {"party_size": "integer"}
    segments = dialogue_transcript(returns, ["hmm", "purple", "yes"], today=TODAY)
    result, evidence = _extract(returns, segments)
    assert result == {"party_size": None} and evidence["party_size"] is None


def test_a_restart_after_no_at_the_confirmation_keeps_the_corrected_answers() -> None:
    returns = {"outcome": ["booked", "declined"]}
    segments = dialogue_transcript(returns, ["booked", "no that's wrong", "declined", "yes"], today=TODAY)
    result, evidence = _extract(returns, segments)
    assert result == {"outcome": "declined"} and evidence["outcome"] == "declined"


def test_keys_pressed_and_datetimes_and_full_schemas() -> None:
    # GIVEN a full JSON Schema with an enum, a date-time and a boolean answered by keypad
    returns = {"type": "object", "properties": {
        "wants_callback": {"type": "boolean"},
        "callback_at": {"type": ["string", "null"], "format": "date-time"},
        "tier": {"enum": ["gold", "silver", None]},
    }}
    segments = dialogue_transcript(returns, ["DTMF: 1", "tomorrow at 3 pm", "DTMF: 2", "yes"], today=TODAY)
    result, _ = _extract(returns, segments)
    assert result["wants_callback"] is True and result["tier"] == "silver"
    # a date-time carries an offset (RFC 3339) and means 3 pm on the day after the call
    at = dt.datetime.fromisoformat(result["callback_at"])
    assert at.utcoffset() is not None
    assert (at.date(), at.hour, at.minute) == (dt.date(2026, 11, 23), 15, 0)


def test_no_questions_in_the_transcript_gives_nulls() -> None:
    result, evidence = _extract({"confirmed": "boolean"}, [("agent", "Hello, how can I help?"), ("caller", "yes")])
    assert result == {"confirmed": None} and evidence == {"confirmed": None}
