"""Any OpenAI-compatible chat server (Ollama, vLLM, llama.cpp, OpenAI itself) behind the
:class:`~.llm.LanguageModel` port, over streamed ``POST {base_url}/chat/completions``.

The reply arrives as server-sent events, one ``data: {json}`` line per chunk, ending with
``data: [DONE]``:

- ``choices[0].delta.content``                        -> :class:`TextDelta`
- ``choices[0].delta.tool_calls[i]`` (id and name first, then argument fragments, keyed by
  ``index``)                                          -> one :class:`ToolCall` each, once complete
- ``choices[0].finish_reason`` (+ ``usage`` if sent)  -> :class:`Finished` (``stop`` -> ``end_turn``,
  ``tool_calls`` -> ``tool_use``, ``length`` -> ``max_tokens``)

Every failure to get a well-formed reply (connection, timeout, HTTP status, malformed stream)
raises :class:`LlmUnavailable`. Cancelling the iterator closes the HTTP response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Optional

import httpx

from .llm import (
    Finished,
    LanguageModel,
    LlmEvent,
    Message,
    TextDelta,
    ToolCall,
    ToolSpec,
)

__all__ = ["OpenAICompatible", "LlmUnavailable", "to_openai_messages", "to_openai_tools"]

CONNECT_TIMEOUT_S = 5.0  # a local model server that does not accept within this is down
# Between two chunks of the stream: generous, because a cold local model loads before its first token.
READ_TIMEOUT_S = 60.0
ERROR_BODY_CHARS = 500  # how much of an error response body goes into the exception message
_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}
_USAGE_KEYS = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens", "total_tokens": "total_tokens"}


class LlmUnavailable(RuntimeError):
    """The model server could not give a reply; ``status_code`` is set for HTTP errors."""

    def __init__(self, message: str, *, status_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def to_openai_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages (and the system prompt) in the chat-completions wire format."""
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        if message.role == "tool":
            if not message.tool_call_id:
                raise ValueError("a tool message needs the tool_call_id of the call it answers")
            wire.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content})
        elif message.role == "assistant" and message.tool_calls:
            wire.append({"role": "assistant", "content": message.content or None, "tool_calls": [
                {"id": call.id, "type": "function",
                 "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
                for call in message.tool_calls]})
        else:
            wire.append({"role": message.role, "content": message.content})
    return wire


def to_openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """Our tool specs as OpenAI function tools."""
    return [{"type": "function", "function": {"name": tool.name, "description": tool.description,
                                              "parameters": tool.parameters}} for tool in tools]


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""

    def complete(self) -> ToolCall:
        try:
            arguments = json.loads(self.arguments) if self.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise LlmUnavailable(f"tool {self.name!r} ({self.id}) arrived with invalid JSON arguments: {exc}") from exc
        if not isinstance(arguments, dict):
            raise LlmUnavailable(f"tool {self.name!r} ({self.id}) arguments are not a JSON object")
        return ToolCall(self.id, self.name, arguments)


class _ChunkDecoder:
    """Turns the stream's JSON chunks into our events, accumulating tool-call fragments."""

    def __init__(self) -> None:
        self.calls: dict[int, _PendingCall] = {}
        self.stop_reason: Optional[str] = None
        self.usage: dict[str, int] = {}

    def feed(self, chunk: dict[str, Any]) -> list[LlmEvent]:
        events: list[LlmEvent] = []
        if isinstance(chunk.get("error"), dict):  # some servers report failures inside the stream
            raise LlmUnavailable(f"model server error: {chunk['error'].get('message', chunk['error'])}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = {ours: int(chunk["usage"][theirs]) for theirs, ours in _USAGE_KEYS.items()
                          if isinstance(chunk["usage"].get(theirs), int)}
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # we ask for one choice; ignore any other
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events.append(TextDelta(delta["content"]))
            for fragment in delta.get("tool_calls") or []:
                call = self.calls.setdefault(int(fragment.get("index", len(self.calls))), _PendingCall())
                call.id = fragment.get("id") or call.id
                function = fragment.get("function") or {}
                call.name = function.get("name") or call.name
                call.arguments += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.stop_reason = _STOP_REASONS.get(choice["finish_reason"], choice["finish_reason"])
        return events

    def finish(self) -> list[LlmEvent]:
        if self.stop_reason is None and not self.calls:
            raise LlmUnavailable("the reply stream ended before a finish_reason")
        events: list[LlmEvent] = [self.calls[index].complete() for index in sorted(self.calls)]
        stop = self.stop_reason or "tool_use"
        events.append(Finished(stop_reason="tool_use" if self.calls and stop == "end_turn" else stop, usage=self.usage))
        return events


class OpenAICompatible(LanguageModel):
    """Streams chat completions from ``base_url`` (e.g. ``http://127.0.0.1:11434/v1`` for Ollama).

    ``api_key`` is sent as a bearer token when given. Pass ``http_client`` to share connections
    across calls (it is not closed here); otherwise each reply uses a short-lived client.
    """

    def __init__(self, *, base_url: str, model: str, api_key: Optional[str] = None,
                 http_client: Optional[httpx.AsyncClient] = None, max_tokens: Optional[int] = None,
                 temperature: Optional[float] = None) -> None:
        if not base_url or not model:
            raise ValueError("base_url and model are required")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._api_key = api_key
        self._client = http_client
        self._max_tokens = max_tokens
        self._temperature = temperature

    def _request_body(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._model, "messages": to_openai_messages(system, messages), "stream": True}
        if tools:
            body["tools"] = to_openai_tools(tools)
        if self._max_tokens is not None:
            body["max_tokens"] = self._max_tokens
        if self._temperature is not None:
            body["temperature"] = self._temperature
        return body

    async def stream(self, *, system: str, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[LlmEvent]:
        """Text deltas as they arrive, complete tool calls, then :class:`Finished`."""
        body = self._request_body(system, messages, tools)
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        client = self._client or httpx.AsyncClient(timeout=timeout)
        try:
            async with client.stream("POST", self._url, json=body, headers=headers, timeout=timeout) as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode("utf-8", "replace")[:ERROR_BODY_CHARS]
                    raise LlmUnavailable(f"{self._url} answered HTTP {response.status_code}: {detail}",
                                         status_code=response.status_code)
                decoder = _ChunkDecoder()
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, "event:" names
                    data = line[len("data:"):].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError as exc:
                        raise LlmUnavailable(f"malformed stream chunk from {self._url}: {data[:80]!r}") from exc
                    for event in decoder.feed(chunk):
                        yield event
                for event in decoder.finish():
                    yield event
        except httpx.HTTPError as exc:
            raise LlmUnavailable(f"cannot reach the model server at {self._url}: {exc!r}") from exc
        finally:
            if self._client is None:
                await client.aclose()
