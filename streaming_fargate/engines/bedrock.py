"""Amazon Bedrock ``ConverseStream`` behind the :class:`~.llm.LanguageModel` port.

boto3 is synchronous, so each reply runs in a worker thread: the thread makes the request and
iterates botocore's ``EventStream``; every event crosses to the event loop through an asyncio
queue (:func:`iterate_in_thread`), where :class:`ConverseStreamDecoder` turns it into our events:

- ``contentBlockDelta.delta.text``             -> :class:`TextDelta`
- ``contentBlockStart.start.toolUse`` + ``contentBlockDelta.delta.toolUse.input`` fragments +
  ``contentBlockStop``                          -> one :class:`ToolCall` per block
- ``messageStop.stopReason`` + ``metadata``    -> :class:`Finished` (usage in snake_case, plus
  ``latency_ms`` from ``metadata.metrics``)

Cancelling the async iterator (task cancellation or ``aclose()``) stops reading and closes the
HTTP stream; the worker thread notices and ends without touching the loop again.

boto3 is imported lazily, inside the default client factory, so this module imports without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Optional

from .aws_clients import ClientFactory, aws_client_factory
from .blocking_stream import iterate_in_thread
from .llm import Finished, LanguageModel, LlmEvent, Message, TextDelta, ToolCall, ToolSpec

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.settings import Settings

__all__ = [
    "BedrockLlm",
    "BedrockStreamError",
    "ConverseStreamDecoder",
    "bedrock_client_factory",
    "to_converse_messages",
    "to_tool_config",
    "CALL_START_TEXT",
    "DEFAULT_MAX_TOKENS",
]

logger = logging.getLogger(__name__)

# A spoken turn is a few sentences; the cap bounds cost and a runaway reply, with room for a tool
# call's arguments.
DEFAULT_MAX_TOKENS = 1024
# Converse wants the first message from the user. When the agent spoke first (``first_message``),
# this stands in for the caller picking up.
CALL_START_TEXT = "[The call has connected.]"
# A live turn cannot wait long on a dead connection.
CONNECT_TIMEOUT_S = 3.0
# Longest silence between two bytes of a reply. First tokens arrive in well under 5 s; this also
# bounds how long a cancelled reply's worker thread can stay blocked in a socket read.
READ_TIMEOUT_S = 20.0
# One retry on throttling or a 5xx; more would outlast the caller's patience on a phone line.
MAX_ATTEMPTS = 2



class BedrockStreamError(RuntimeError):
    """The reply stream was malformed or ended early (not a service error: those raise botocore's)."""


def bedrock_client_factory(settings: "Settings") -> ClientFactory:
    """The default client factory: a ``bedrock-runtime`` client for ``settings.region``."""
    return aws_client_factory("bedrock-runtime", settings, connect_timeout_s=CONNECT_TIMEOUT_S,
                              read_timeout_s=READ_TIMEOUT_S, max_attempts=MAX_ATTEMPTS)


# --- the worker-thread bridge -------------------------------------------------------------------


# --- request mapping -----------------------------------------------------------------------------


def to_converse_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our conversation as Converse ``messages``.

    ``tool`` messages become ``toolResult`` blocks in a user turn; consecutive turns of one role
    merge (Converse requires alternation); empty turns are dropped; a conversation that starts with
    the agent gets :data:`CALL_START_TEXT` as its first user turn.
    """
    converse: list[dict[str, Any]] = []
    for message in messages:
        blocks: list[dict[str, Any]] = []
        if message.role == "tool":
            if not message.tool_call_id:
                raise ValueError("a tool message needs the tool_call_id of the call it answers")
            blocks.append(
                {
                    "toolResult": {
                        "toolUseId": message.tool_call_id,
                        "content": [{"text": message.content or "(no output)"}],
                    }
                }
            )
        else:
            if message.content.strip():
                blocks.append({"text": message.content})
            for call in message.tool_calls:
                blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}})
        if not blocks:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if converse and converse[-1]["role"] == role:
            converse[-1]["content"].extend(blocks)
        else:
            converse.append({"role": role, "content": blocks})
    if converse and converse[0]["role"] == "assistant":
        converse.insert(0, {"role": "user", "content": [{"text": CALL_START_TEXT}]})
    return converse


def to_tool_config(tools: list[ToolSpec]) -> Optional[dict[str, Any]]:
    """Converse ``toolConfig`` for our tool specs (``None`` when there are none)."""
    if not tools:
        return None
    specs = []
    for tool in tools:
        spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
        if tool.description:
            spec["description"] = tool.description
        specs.append({"toolSpec": spec})
    return {"tools": specs}


# --- response mapping ----------------------------------------------------------------------------


@dataclass
class _PendingToolUse:
    tool_use_id: str
    name: str
    fragments: list[str] = field(default_factory=list)

    def to_call(self) -> ToolCall:
        raw = "".join(self.fragments).strip()
        try:
            arguments = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise BedrockStreamError(f"tool {self.name!r} ({self.tool_use_id}) sent invalid JSON input: {exc}") from exc
        if not isinstance(arguments, dict):
            raise BedrockStreamError(f"tool {self.name!r} ({self.tool_use_id}) input is not a JSON object")
        return ToolCall(id=self.tool_use_id, name=self.name, arguments=arguments)


class ConverseStreamDecoder:
    """Turns parsed ``ConverseStream`` events (botocore dicts) into our :data:`LlmEvent` values."""

    def __init__(self) -> None:
        self._tool_uses: dict[int, _PendingToolUse] = {}
        self._stop_reason: Optional[str] = None
        self._usage: dict[str, int] = {}

    def feed(self, event: dict[str, Any]) -> list[LlmEvent]:
        """Our events for one stream event (often none)."""
        if "contentBlockDelta" in event:
            body = event["contentBlockDelta"]
            delta = body.get("delta", {})
            if delta.get("text"):
                return [TextDelta(delta["text"])]
            if "toolUse" in delta:
                pending = self._tool_uses.get(body.get("contentBlockIndex", 0))
                if pending is None:
                    raise BedrockStreamError("toolUse input arrived for a block that never started")
                pending.fragments.append(delta["toolUse"].get("input", ""))
            return []  # reasoning and citation deltas are not spoken
        if "contentBlockStart" in event:
            body = event["contentBlockStart"]
            tool_use = body.get("start", {}).get("toolUse")
            if tool_use is not None:
                index = body.get("contentBlockIndex", 0)
                self._tool_uses[index] = _PendingToolUse(tool_use["toolUseId"], tool_use["name"])
            return []
        if "contentBlockStop" in event:
            pending = self._tool_uses.pop(event["contentBlockStop"].get("contentBlockIndex", 0), None)
            return [pending.to_call()] if pending is not None else []
        if "messageStop" in event:
            self._stop_reason = event["messageStop"].get("stopReason", "end_turn")
            return []
        if "metadata" in event:
            self._usage = _usage(event["metadata"])
        return []

    def finish(self) -> Finished:
        """The closing :class:`Finished`; raises if the stream ended before ``messageStop``."""
        if self._stop_reason is None:
            raise BedrockStreamError("the reply stream ended before messageStop")
        return Finished(stop_reason=self._stop_reason, usage=self._usage)


_USAGE_KEYS = {
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "totalTokens": "total_tokens",
    "cacheReadInputTokens": "cache_read_input_tokens",
    "cacheWriteInputTokens": "cache_write_input_tokens",
}


def _usage(metadata: dict[str, Any]) -> dict[str, int]:
    usage = {ours: int(metadata["usage"][theirs]) for theirs, ours in _USAGE_KEYS.items() if theirs in metadata.get("usage", {})}
    latency = metadata.get("metrics", {}).get("latencyMs")
    if latency is not None:
        usage["latency_ms"] = int(latency)
    return usage


# --- the adapter ---------------------------------------------------------------------------------


class BedrockLlm(LanguageModel):
    """Streams replies from a Bedrock model with ``ConverseStream``.

    Parameters
    ----------
    model_id:
        A Bedrock model or inference-profile id, e.g. ``anthropic.claude-3-5-haiku-20241022-v1:0``.
    client_factory:
        Returns a ``bedrock-runtime`` client; called once, in a worker thread (building a boto3 client
        reads its model files). Defaults to :func:`bedrock_client_factory` over ``settings``
        (``Settings.from_env()`` when omitted).
    max_tokens, temperature:
        ``inferenceConfig``; ``temperature=None`` keeps the model's default.

    Limitations
    -----------
    When the history holds tool calls, ``tools`` must be non-empty: Converse rejects ``toolUse`` and
    ``toolResult`` blocks without a ``toolConfig``.
    """

    def __init__(
        self,
        model_id: str,
        *,
        client_factory: Optional[ClientFactory] = None,
        settings: Optional["Settings"] = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: Optional[float] = None,
    ) -> None:
        if not model_id:
            raise ValueError("model_id is required")
        if client_factory is None:
            from callingbox.core.settings import Settings

            client_factory = bedrock_client_factory(settings or Settings.from_env())
        self._model_id = model_id
        self._client_factory = client_factory
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._max_tokens = max_tokens
        self._temperature = temperature

    @property
    def model_id(self) -> str:
        """The Bedrock model id requests go to."""
        return self._model_id

    def request(self, *, system: str, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        """The ``converse_stream`` keyword arguments for one reply."""
        inference: dict[str, Any] = {"maxTokens": self._max_tokens}
        if self._temperature is not None:
            inference["temperature"] = self._temperature
        kwargs: dict[str, Any] = {
            "modelId": self._model_id,
            "messages": to_converse_messages(messages),
            "inferenceConfig": inference,
        }
        if system.strip():
            kwargs["system"] = [{"text": system}]
        tool_config = to_tool_config(tools)
        if tool_config is not None:
            kwargs["toolConfig"] = tool_config
        return kwargs

    async def stream(self, *, system: str, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[LlmEvent]:
        """Text deltas and tool calls as the model produces them, then one :class:`Finished`."""
        kwargs = self.request(system=system, messages=messages, tools=tools)
        decoder = ConverseStreamDecoder()
        # aclosing: when our consumer leaves early, the HTTP stream closes now, not at garbage collection
        async with contextlib.aclosing(iterate_in_thread(lambda: self._open(kwargs), name="bedrock-converse-stream")) as events:
            async for event in events:
                for ours in decoder.feed(event):
                    yield ours
        yield decoder.finish()

    def _open(self, kwargs: dict[str, Any]) -> tuple[Iterable[dict[str, Any]], Callable[[], None]]:
        """Worker thread: send the request; return the event stream and its close function."""
        with self._client_lock:
            if self._client is None:
                self._client = self._client_factory()
        response = self._client.converse_stream(**kwargs)
        events = response["stream"]
        return events, events.close
