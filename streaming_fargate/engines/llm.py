"""The language-model port: streamed replies with tool calls."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Literal, Optional, Union

__all__ = ["Message", "ToolSpec", "TextDelta", "ToolCall", "Finished", "LlmEvent", "LanguageModel"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call (built-in or the agent's)."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asks for a tool; its result goes back as a ``tool`` message with ``tool_call_id``."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One turn of the conversation as the model sees it."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: Optional[str] = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply text, in order."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The reply is complete. ``stop_reason`` is ``end_turn``, ``tool_use``, ``max_tokens``…"""

    stop_reason: str = "end_turn"
    usage: dict[str, int] = field(default_factory=dict)


LlmEvent = Union[TextDelta, ToolCall, Finished]


class LanguageModel(abc.ABC):
    """Streams one reply at a time; cancelling the iterator cancels the request."""

    whole_history: bool = False
    """True for an engine that must see every turn, whatever the agent's ``context_window``: the
    builtin dialogue replays the whole call to know which ``returns`` field it is on. A language
    model only gets the last ``context_window`` turns (a cost and latency bound)."""

    @abc.abstractmethod
    def stream(self, *, system: str, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[LlmEvent]:
        """Text deltas and tool calls as they are produced, then one :class:`Finished`."""
