"""The OpenAI-compatible adapter: ``POST {base_url}/chat/completions`` with one function tool, forced.

Works with any server that speaks the chat-completions wire format with tools (Ollama, vLLM,
llama.cpp's server, OpenAI). Request::

    {"model": ..., "messages": [system, user], "temperature": 0,
     "tools": [{"type": "function", "function": {"name": "record_call_result", "parameters": <schema>}}],
     "tool_choice": {"type": "function", "function": {"name": "record_call_result"}}}

Response: ``choices[0].message.tool_calls[i].function.arguments`` is the JSON of
``{"result", "evidence"}``. A server that ignores ``tool_choice`` and answers with that JSON as
plain ``content`` is accepted too.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Optional

import httpx

from .base import CallFacts, Extractor, RawExtraction, Segment
from .exceptions import ExtractorError, ExtractorOutputError, ExtractorUnavailable
from .prompt import SYSTEM_PROMPT, TOOL_DESCRIPTION, TOOL_NAME, read_tool_input, tool_input_schema, user_prompt

__all__ = ["OpenAICompatibleExtractor", "chat_request"]

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # a cold local model loads before it answers
ERROR_BODY_CHARS = 500  # how much of an error body goes into the message
_TRANSIENT_STATUS = frozenset({408, 409, 425, 429})


def chat_request(model: str, schema: dict[str, Any], transcript: list[Segment], *, facts: CallFacts,
                 feedback: Optional[str]) -> dict[str, Any]:
    """The JSON body of one ``/chat/completions`` extraction request."""
    return {
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(schema, transcript, facts=facts, feedback=feedback)},
        ],
        "tools": [{"type": "function", "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                                                    "parameters": tool_input_schema(schema)}}],
        "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
    }


class OpenAICompatibleExtractor(Extractor):
    """Extraction with ``model`` on the OpenAI-compatible server at ``base_url`` (``…/v1``).

    ``http_client`` replaces the ``httpx.Client`` (tests pass one with a ``MockTransport``); the
    extractor closes only a client it built.
    """

    def __init__(self, *, base_url: str, model: str, api_key: Optional[str] = None,
                 http_client: Optional[httpx.Client] = None) -> None:
        self.model = f"openai:{model}"
        self._model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._given = http_client
        self._client: Optional[httpx.Client] = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._given or httpx.Client(
                    timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S), trust_env=False)
            return self._client

    def close(self) -> None:
        """Close the HTTP client if this extractor built it."""
        if self._client is not None and self._given is None:
            self._client.close()
        self._client = None

    def extract(self, schema: dict[str, Any], transcript: list[Segment], *, feedback: Optional[str] = None,
                facts: Optional[CallFacts] = None) -> RawExtraction:
        """One chat completion with the forced function (see :class:`Extractor`)."""
        body = chat_request(self._model, schema, transcript, facts=facts or CallFacts(), feedback=feedback)
        try:
            response = self._http().post(self._url, json=body, headers=self._headers)
        except httpx.TransportError as error:
            raise ExtractorUnavailable(f"the model server at {self._url} could not be reached: {error!r}") from error
        if response.status_code >= 400:
            text = response.text[:ERROR_BODY_CHARS]
            if response.status_code >= 500 or response.status_code in _TRANSIENT_STATUS:
                raise ExtractorUnavailable(f"the model server answered {response.status_code}: {text}")
            raise ExtractorError(f"the model server refused the request ({response.status_code}): {text}")
        try:
            message = response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ExtractorOutputError("the model server's reply is not a chat completion") from None
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            if function.get("name") == TOOL_NAME:
                return read_tool_input(function.get("arguments"))
        content = message.get("content")
        if isinstance(content, str) and content.strip().startswith("{"):
            try:
                return read_tool_input(json.loads(content))
            except ValueError:
                pass
        raise ExtractorOutputError(f"the model did not call {TOOL_NAME}")
