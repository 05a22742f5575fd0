"""The extractor port: one method that reads a transcript against a JSON Schema.

Adapters (ARCHITECTURE rule 3): :mod:`.bedrock` (Bedrock ``converse`` with one forced tool),
:mod:`.openai_compat` (any OpenAI-compatible ``/chat/completions`` server, forced function call)
and :mod:`.builtin` (deterministic: finds the builtin dialogue's questions and parses the answers).
Strict validation of what they return is not theirs to do: :mod:`.validation` checks every answer
the same way, whichever adapter produced it.
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional, TypedDict

__all__ = ["Extractor", "RawExtraction", "Segment", "CallFacts"]


class Segment(TypedDict):
    """One transcript segment, as :func:`callingbox.core.store.transcripts.list_segments` returns it."""

    party: str
    text: str
    start_ms: int
    end_ms: int
    interrupted: bool


@dataclass(frozen=True)
class CallFacts:
    """What an extractor may know about the call besides its transcript.

    ``call_date`` resolves relative answers ("tomorrow") and is the day the call was answered;
    ``instructions`` is what the agent was asked to do (it tells a model what the fields mean).
    """

    call_date: Optional[dt.date] = None
    instructions: Optional[str] = None
    language: Optional[str] = None


@dataclass
class RawExtraction:
    """An extractor's answer, not yet validated.

    ``values`` maps field name to the value as the engine produced it (possibly of the wrong type,
    possibly with unknown keys); ``evidence`` maps field name to the quote the value came from.
    ``raw`` is the engine's own output (the tool input), kept for the retry's feedback and logs.
    """

    values: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    raw: Any = None


class Extractor(abc.ABC):
    """Fills a ``returns`` schema from a call's transcript.

    Implementations are synchronous (the worker is a Lambda handling one record at a time) and
    keep no state between calls of :meth:`extract`, so one instance may serve many calls.
    """

    #: How the extraction names its engine in ``extraction.model``.
    model: str = ""

    @abc.abstractmethod
    def extract(self, schema: dict[str, Any], transcript: list[Segment], *, feedback: Optional[str] = None,
                facts: Optional[CallFacts] = None) -> RawExtraction:
        """Read ``transcript`` and return a value (and a quote) for each property of ``schema``.

        Parameters
        ----------
        schema:
            The JSON Schema (2020-12) of the result: an object whose ``properties`` are the fields,
            as :func:`callingbox.core.returns_schema.to_json_schema` normalizes ``returns``.
        transcript:
            The call's segments in speaking order.
        feedback:
            Set on the retry: why the previous answer was refused (the validation errors), to be
            shown to the model so that it can correct itself.
        facts:
            The call's date and the agent's instructions (None: nothing known).

        Raises
        ------
        ExtractorUnavailable
            The engine could not answer now (network, throttling, 5xx): retry the job later.
        ExtractorOutputError
            The engine answered with something that is not an answer (no tool call, bad JSON):
            treated like an invalid answer (retried once with feedback).
        ExtractorError
            Anything else that will not get better by retrying (bad model id, access denied).
        """
