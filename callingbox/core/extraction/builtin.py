"""The builtin extractor: reads back what the builtin dialogue collected, from the transcript alone.

The voice gateway's builtin dialogue asks for each ``returns`` field with the question
:func:`callingbox.core.answers.question` phrases, and understands the caller's reply with
:func:`callingbox.core.answers.parse_answer`. This extractor walks the transcript with the same two
functions: an agent segment containing a field's question opens that field, and the first caller
segment after it that answers it (parsed or not) settles it. A field asked again later (the
dialogue re-asks an answer it did not understand, or starts over after "no, that's wrong") takes
its value from the last asking that got an answer, as the dialogue itself does. The quote is the
caller's segment, word for word.

It needs no model and no network, gives the same answer every time (the retry's ``feedback`` cannot
change it), and is what the local stack uses by default (``llm_model: builtin``).

Limitations: it finds only the builtin dialogue's own questions (a transcript of a model-driven
call yields nulls), and relative dates ("tomorrow") count from ``facts.call_date``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from ..answers import Field, fields_of, parse_answer, question
from .base import CallFacts, Extractor, RawExtraction, Segment

__all__ = ["BuiltinExtractor"]


def _asked(text: str, fields: list[Field]) -> Optional[Field]:
    """The field whose question ``text`` asks last ("Got it. <next question>" asks the next one)."""
    best: Optional[Field] = None
    best_at = -1
    for f in fields:
        at = text.rfind(question(f))
        if at > best_at:
            best, best_at = f, at
    return best


def _typed(f: Field, value: Any) -> Any:
    """The dialogue's value in the result's types: a naive date-time gets this process's UTC offset
    (the gateway parsed it in local time), as RFC 3339 requires an offset."""
    if f.kind == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value).astimezone().isoformat()
    return value


class BuiltinExtractor(Extractor):
    """Deterministic extraction of the builtin dialogue's answers (see the module docstring)."""

    model = "builtin"

    def extract(self, schema: dict[str, Any], transcript: list[Segment], *, feedback: Optional[str] = None,
                facts: Optional[CallFacts] = None) -> RawExtraction:
        """Every field's last answered value and the caller's words for it."""
        fields = fields_of(schema)
        today = (facts.call_date if facts else None) or dt.date.today()
        values: dict[str, Any] = {f.name: None for f in fields}
        evidence: dict[str, Any] = {f.name: None for f in fields}
        open_field: Optional[Field] = None
        for segment in transcript:
            text = str(segment.get("text") or "")
            if segment.get("party") == "agent":
                open_field = _asked(text, fields)
                continue
            if open_field is None or not text.strip():
                continue
            value = parse_answer(open_field, text, today)
            values[open_field.name] = _typed(open_field, value)
            evidence[open_field.name] = text if value is not None else None
            open_field = None  # one answer per asking, as the dialogue takes it
        return RawExtraction(values=values, evidence=evidence, raw={"result": values, "evidence": evidence})
