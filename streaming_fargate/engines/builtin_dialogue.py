"""A deterministic, rule-based stand-in for a language model, used when no model is configured.

It fills the agent's ``returns`` fields by asking for each in turn, understands the answers
(yes/no, numbers in digits or words, dates relative to today, enumerations, free text, DTMF
keys), re-asks once when an answer does not parse, confirms what it collected, says goodbye and
calls the built-in ``end_call`` tool.

It keeps no state between calls: every :meth:`BuiltinDialogue.stream` replays the caller's turns
from ``messages`` through the same rules, so a barge-in, a retry or a restarted gateway cannot
put it out of step. Only the user turns drive it; its own past replies matter only to tell
whether the opening question was actually spoken (a truncated greeting was not heard).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping, Optional

from callingbox.core.answers import Field, fields_of, parse_answer, question
from callingbox.core.answers import words as _words

from .llm import (
    Finished,
    LanguageModel,
    LlmEvent,
    Message,
    TextDelta,
    ToolCall,
    ToolSpec,
)

__all__ = ["BuiltinDialogue", "Field", "WORDS_PER_DELTA", "fields_of", "question", "parse", "speech_hints"]

# The field model, the questions and the answer rules are shared with the builtin extractor
# (callingbox.core.answers), so that it finds exactly these questions in a transcript.
parse = parse_answer

WORDS_PER_DELTA = 4  # reply streamed in groups of this many words, like a model's token stream
MAX_RETRIES = 1  # a field whose answer does not parse is asked again this many times, then skipped
HINT_MAX_WORDS = 4  # context values longer than this are prose, not something a caller says back
MAX_RESTARTS = 1  # "no, that's wrong" at the confirmation restarts collection at most this often
DEFAULT_GREETING = "Hello, thanks for taking my call."


def speech_hints(agent: Mapping[str, Any], context: Optional[Mapping[str, Any]] = None) -> tuple[str, ...]:
    """Phrases a caller of this agent is likely to say, for :meth:`SpeechToText.open`'s ``hints``:
    the ``returns`` enumeration options and the call's short text context values (a name the
    caller will confirm). The local recognizer needs them to do well; others may ignore them."""
    hints: list[str] = []
    for f in fields_of(agent.get("returns")):
        hints.extend(_words(option) for option in f.options)
    for value in (context or {}).values():
        if isinstance(value, str) and 0 < len(value.split()) <= HINT_MAX_WORDS:
            hints.append(value)
    return tuple(dict.fromkeys(hint for hint in hints if hint))


def spoken(value: Any, kind: str) -> str:
    """A collected value as it is read back in the confirmation."""
    if value is None:
        return "not given"
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "date":
        day = dt.date.fromisoformat(value)
        return f"{day:%A}, {day:%B} {day.day}, {day.year}"
    if kind == "datetime":
        at = dt.datetime.fromisoformat(value)
        return f"{at:%A}, {at:%B} {at.day} at {at:%I:%M %p}".replace(" 0", " ")
    return _words(value) if kind == "enum" else str(value)


@dataclass
class _Conversation:
    """The replayed state: where the dialogue stands after the caller's turns so far."""

    fields: list[Field]
    today: dt.date
    values: dict[str, Any] = field(default_factory=dict)
    index: int = 0  # the field being asked about; len(fields) means the confirmation
    retries: int = 0
    restarts: int = 0
    greeting: str = DEFAULT_GREETING
    opened: bool = False  # the agent has said something
    asked: bool = False  # the current question was spoken
    ended: bool = False

    def current_question(self) -> str:
        if self.index < len(self.fields):
            return question(self.fields[self.index])
        items = [f"{_words(f.name)} is {spoken(self.values.get(f.name), f.kind)}" for f in self.fields]
        readback = items[0] if len(items) == 1 else ", ".join(items[:-1]) + f", and {items[-1]}"
        return f"Let me confirm: {readback}. Is that right?"

    def step(self, text: str) -> tuple[str, bool]:
        """Take one caller turn; returns the reply and whether the call should end."""
        if not self.fields:
            self.ended = True
            return "Thank you, I have noted that. Goodbye!", True
        if not self.asked:
            self.asked, opened, self.opened = True, self.opened, True
            return (self.current_question() if opened else f"{self.greeting} {self.current_question()}"), False
        if self.index >= len(self.fields):
            return self._confirm(text)
        f = self.fields[self.index]
        value = parse(f, text, self.today)
        if value is None and self.retries < MAX_RETRIES:
            self.retries += 1
            return f"Sorry, I didn't catch that. {self.current_question()}", False
        self.values[f.name] = value
        self.index, self.retries = self.index + 1, 0
        lead = "Got it." if value is not None else "No problem, let's move on."
        return f"{lead} {self.current_question()}", False

    def _confirm(self, text: str) -> tuple[str, bool]:
        verdict = parse(Field("confirmation", "boolean"), text, self.today)  # also takes keys 1 and 2
        if verdict is None and self.retries < MAX_RETRIES:
            self.retries += 1
            return f"Sorry, I didn't catch that. {self.current_question()} Please say yes or no.", False
        if verdict is False and self.restarts < MAX_RESTARTS:
            self.values, self.index, self.retries, self.restarts = {}, 0, 0, self.restarts + 1
            return f"Sorry about that, let's start over. {self.current_question()}", False
        self.ended = True
        return "Great, thank you for your time. Goodbye!", True


class BuiltinDialogue(LanguageModel):
    """The rule-based dialogue for one call, built from the call's agent snapshot.

    ``agent`` is the snapshot dict (``first_message``, ``returns``, ...); ``today`` gives the date
    that relative answers ("tomorrow") are counted from, replaceable in tests.
    """

    whole_history = True

    def __init__(self, agent: Mapping[str, Any], *, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._fields = fields_of(agent.get("returns"))
        self._greeting = (agent.get("first_message") or "").strip() or DEFAULT_GREETING
        self._today = today

    def _replay(self, messages: list[Message]) -> tuple[_Conversation, str, bool]:
        talk = _Conversation(self._fields, self._today(), greeting=self._greeting)
        turns = [m for m in messages if m.role in ("user", "assistant")]
        if not turns:  # nothing said yet: greet, then ask
            talk.opened = talk.asked = True
            tail = talk.current_question() if self._fields else "How can I help you today?"
            return talk, f"{self._greeting} {tail}", False
        if turns[0].role == "assistant":
            talk.opened = True
            # Our own opening carries the first question; if it does not (the pipeline spoke the
            # first_message, or the caller cut us off before the question) it is still to ask.
            talk.asked = bool(self._fields) and question(self._fields[0]) in turns[0].content
        reply, end = "", False
        for message in turns:
            if message.role == "user" and not talk.ended:
                reply, end = talk.step(message.content)
        if turns[-1].role == "assistant" and not talk.ended:  # called again with no new caller turn
            if not self._fields:
                reply = "How can I help you today?"
            elif talk.asked:
                reply = f"Are you still there? {talk.current_question()}"
            else:
                reply = talk.step("")[0]
        return talk, reply, end

    def collected(self, messages: list[Message]) -> dict[str, Any]:
        """Every ``returns`` field with the typed value gathered so far (None where not given)."""
        talk, _, _ = self._replay(messages)
        return {f.name: talk.values.get(f.name) for f in self._fields}

    async def stream(self, *, system: str, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[LlmEvent]:
        """The next reply as word-group deltas, then ``end_call`` when the dialogue is done."""
        if any(call.name == "end_call" for m in messages for call in m.tool_calls):
            yield Finished("end_turn")
            return
        _, reply, end = self._replay(messages)
        words = reply.split()
        for start in range(0, len(words), WORDS_PER_DELTA):
            piece = " ".join(words[start:start + WORDS_PER_DELTA])
            yield TextDelta(piece if start == 0 else " " + piece)
            await asyncio.sleep(0)  # a real model's stream yields to the loop; so does this one
        if end:
            turn = sum(1 for m in messages if m.role == "user")
            yield ToolCall(f"end_call_{turn}", "end_call", {"reason": "completed"})
            yield Finished("tool_use")
        else:
            yield Finished("end_turn")
