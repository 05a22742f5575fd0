"""BuiltinDialogue: asks for each `returns` field, understands answers, confirms, ends the call."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from streaming_fargate.engines import builtin_answers as answers
from streaming_fargate.engines.builtin_dialogue import (
    BuiltinDialogue,
    fields_of,
    question,
    speech_hints,
)
from streaming_fargate.engines.llm import (
    Finished,
    LlmEvent,
    Message,
    TextDelta,
    ToolCall,
)

TODAY = dt.date(2026, 11, 22)  # a Sunday
RETURNS = {"confirmed": "boolean", "reschedule_to": "date", "party_size": "integer", "outcome": ["booked", "declined"]}


def _dialogue(**agent: Any) -> BuiltinDialogue:
    return BuiltinDialogue({"returns": RETURNS, **agent}, today=lambda: TODAY)


def _turn(dialogue: BuiltinDialogue, messages: list[Message]) -> tuple[str, list[LlmEvent]]:
    async def run() -> list[LlmEvent]:
        return [event async for event in dialogue.stream(system="", messages=messages, tools=[])]

    events = asyncio.run(run())
    return "".join(e.text for e in events if isinstance(e, TextDelta)), events


def _converse(dialogue: BuiltinDialogue, script: list[str], history: list[Message] | None = None) -> list[Message]:
    """Play the scripted caller until the dialogue calls end_call; returns the whole history."""
    messages = list(history or [])
    replies = iter(script)
    while True:
        text, events = _turn(dialogue, messages)
        calls = tuple(e for e in events if isinstance(e, ToolCall))
        messages.append(Message("assistant", text, calls))
        if calls:
            return messages
        messages.append(Message("user", next(replies)))


def test_full_conversation_collects_typed_values_and_ends_with_end_call() -> None:
    dialogue = _dialogue(first_message="Hi, this is Luigi's calling about your reservation.")
    # WHEN the caller answers each question (one answer unclear the first time)
    messages = _converse(dialogue, ["yeah", "hmm", "next friday", "twenty three", "we booked it", "yes"])
    # THEN the dialogue greeted, asked in turn, confirmed, said goodbye and called end_call
    assistant = [m for m in messages if m.role == "assistant"]
    assert assistant[0].content.startswith("Hi, this is Luigi's calling about your reservation. Is that confirmed?")
    assert "Sorry, I didn't catch that. What date would you like to reschedule to?" in assistant[2].content
    assert "Let me confirm:" in assistant[-2].content and "Friday, November 27, 2026" in assistant[-2].content
    assert "Goodbye" in assistant[-1].content
    assert assistant[-1].tool_calls == (ToolCall(assistant[-1].tool_calls[0].id, "end_call", {"reason": "completed"}),)
    collected = dialogue.collected(messages)
    assert collected == {"confirmed": True, "reschedule_to": "2026-11-27", "party_size": 23, "outcome": "booked"}
    assert type(collected["party_size"]) is int and type(collected["confirmed"]) is bool


def test_reply_streams_as_word_groups_then_finished() -> None:
    text, events = _turn(_dialogue(), [])
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and isinstance(events[-1], Finished) and events[-1].stop_reason == "end_turn"
    assert text == "Hello, thanks for taking my call. Is that confirmed?"


def test_a_field_that_never_parses_is_skipped_after_one_retry() -> None:
    dialogue = _dialogue()
    messages = _converse(dialogue, ["no", "purple", "purple again", "DTMF: 4", "DTMF: 2", "correct"])
    assert dialogue.collected(messages) == {"confirmed": False, "reschedule_to": None, "party_size": 4,
                                            "outcome": "declined"}
    assert "not given" in [m for m in messages if m.role == "assistant"][-2].content


def test_dtmf_keys_answer_booleans_numbers_and_choices() -> None:
    dialogue = _dialogue()
    messages = _converse(dialogue, ["DTMF: 1", "march third", "DTMF: 1\nDTMF: 2", "DTMF: 1", "DTMF: 1"])
    assert dialogue.collected(messages) == {"confirmed": True, "reschedule_to": "2027-03-03", "party_size": 12,
                                            "outcome": "booked"}


def test_no_at_the_confirmation_starts_over_once() -> None:
    dialogue = _dialogue()
    messages = _converse(dialogue, ["yes", "tomorrow", "4", "booked", "no, that's wrong",
                                    "no", "2026-12-01", "two", "declined", "yes"])
    assert dialogue.collected(messages) == {"confirmed": False, "reschedule_to": "2026-12-01", "party_size": 2,
                                            "outcome": "declined"}
    assert any("let's start over" in m.content for m in messages if m.role == "assistant")


def test_first_message_spoken_by_the_pipeline_is_followed_by_the_first_question() -> None:
    dialogue = _dialogue(first_message="Hi, this is Luigi's.")
    history = [Message("assistant", "Hi, this is Luigi's."), Message("user", "hello?")]
    text, _ = _turn(dialogue, history)
    assert text == "Is that confirmed?"
    # AND the caller's greeting did not count as an answer
    assert dialogue.collected(history)["confirmed"] is None


def test_after_end_call_the_dialogue_says_nothing_more() -> None:
    dialogue = _dialogue()
    messages = _converse(dialogue, ["yes", "tomorrow", "4", "booked", "yes"])
    messages.append(Message("tool", "ok", tool_call_id=messages[-1].tool_calls[0].id))
    text, events = _turn(dialogue, messages)
    assert text == "" and events == [Finished("end_turn")]


def test_an_agent_without_returns_greets_then_ends() -> None:
    dialogue = BuiltinDialogue({"first_message": "Hello from Acme."}, today=lambda: TODAY)
    messages = _converse(dialogue, ["I wanted to ask about my order"])
    assert messages[0].content == "Hello from Acme. How can I help you today?"
    assert messages[-1].tool_calls[0].name == "end_call"
    assert dialogue.collected(messages) == {}


def test_full_json_schema_returns_are_understood() -> None:
    schema = {"type": "object", "properties": {
        "caller_name": {"type": "string"},
        "rating": {"type": ["number", "null"]},
        "visit_date": {"type": "string", "format": "date"},
        "channel": {"enum": ["phone", "email", None]},
    }}
    dialogue = BuiltinDialogue({"returns": schema}, today=lambda: TODAY)
    messages = _converse(dialogue, ["my name is john smith", "three point five", "the day after tomorrow",
                                    "by e-mail", "yes"])
    assert dialogue.collected(messages) == {"caller_name": "John Smith", "rating": 3.5, "visit_date": "2026-11-24",
                                            "channel": "email"}


@pytest.mark.parametrize(("name", "kind", "expected"), [
    ("caller_name", "string", "Could you tell me your name?"),
    ("confirmed", "boolean", "Is that confirmed?"),
    ("booking_confirmed", "boolean", "Is the booking confirmed?"),
    ("has_pets", "boolean", "Do you have pets?"),
    ("reschedule_to", "date", "What date would you like to reschedule to?"),
    ("appointment_date", "date", "What date is the appointment?"),
    ("number_of_guests", "integer", "How many guests?"),
    ("party_size", "integer", "What is the party size?"),
])
def test_questions_read_naturally(name: str, kind: str, expected: str) -> None:
    assert question(fields_of({name: kind})[0]) == expected


def test_enum_question_lists_the_options() -> None:
    assert question(fields_of({"outcome": ["booked", "declined", "call_back"]})[0]) == \
        "Which best describes the outcome: booked, declined or call back?"


def test_speech_hints_carry_options_and_short_context_values() -> None:
    hints = speech_hints({"returns": RETURNS}, {"customer": "John Smith", "notes": "a long note about the order"})
    assert hints == ("booked", "declined", "John Smith")


@pytest.mark.parametrize(("said", "value"), [
    ("yes", True), ("yeah sure", True), ("yep", True), ("correct", True), ("of course", True),
    ("sure, no problem", True), ("no", False), ("nope", False), ("no thanks", False), ("not really", False),
    ("I don't know", None), ("purple", None),
])
def test_yes_no(said: str, value: bool | None) -> None:
    assert answers.yes_no(said) is value


@pytest.mark.parametrize(("said", "value"), [
    ("twenty three", 23), ("three", 3), ("23", 23), ("1,200", 1200), ("three point five", 3.5),
    ("one hundred and five", 105), ("four one five", 415), ("two and a half", 2.5), ("a table for four", 4),
    ("oh", None), ("none", None),
])
def test_numbers(said: str, value: float | None) -> None:
    assert answers.number(said) == value


@pytest.mark.parametrize(("said", "iso"), [
    ("today", "2026-11-22"), ("tomorrow", "2026-11-23"), ("the day after tomorrow", "2026-11-24"),
    ("next friday", "2026-11-27"), ("sunday", "2026-11-29"), ("march third", "2027-03-03"),
    ("the third of march", "2027-03-03"), ("December 1st, 2027", "2027-12-01"), ("2026-11-25", "2026-11-25"),
    ("in three days", "2026-11-25"), ("the 25th", "2026-11-25"), ("whenever", None),
])
def test_dates(said: str, iso: str | None) -> None:
    found = answers.date(said, TODAY)
    assert (found.isoformat() if found else None) == iso


def test_datetime_fields_need_a_date_and_a_time() -> None:
    dialogue = BuiltinDialogue({"returns": {"callback_at": "datetime"}}, today=lambda: TODAY)
    messages = _converse(dialogue, ["tomorrow", "tomorrow at 3 pm", "yes"])
    assert dialogue.collected(messages) == {"callback_at": "2026-11-23T15:00:00"}


def test_enum_answers_match_fuzzily() -> None:
    assert answers.choice("it was declined", ["booked", "declined"]) == "declined"
    assert answers.choice("bookd", ["booked", "declined"]) == "booked"
    assert answers.choice("the second one", ["booked", "declined"]) == "declined"
    assert answers.choice("purple", ["booked", "declined"]) is None


def test_a_short_context_window_never_cuts_the_builtin_dialogue_history() -> None:
    """The builtin replays the whole call; a model-sized window would make it forget answered fields."""
    from streaming_fargate.processors.turns import context_messages

    dialogue = _dialogue(context_window=1)
    assert dialogue.whole_history
    # GIVEN the window Turns would use for this engine, WHEN the caller answers every question
    window = 10**9 if dialogue.whole_history else 1
    messages: list[Message] = []
    for answer in ["yes", "next friday", "four", "booked", "yes"]:
        text, events = _turn(dialogue, context_messages(messages, window))
        messages.append(Message("assistant", text, tuple(e for e in events if isinstance(e, ToolCall))))
        messages.append(Message("user", answer))
    text, events = _turn(dialogue, context_messages(messages, window))
    # THEN it ends the call with every field collected (with window=1 it would re-ask from the start)
    assert any(isinstance(e, ToolCall) and e.name == "end_call" for e in events)
    assert dialogue.collected(messages) == {"confirmed": True, "reschedule_to": "2026-11-27",
                                            "party_size": 4, "outcome": "booked"}
    cut_text, cut_events = _turn(dialogue, context_messages(messages, 1))
    assert not any(isinstance(e, ToolCall) for e in cut_events)
