"""The OpenAI-compatible adapter against a chat-completions server on loopback, and model routing."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from callingbox.core.extraction.base import CallFacts
from callingbox.core.extraction.bedrock import BedrockExtractor
from callingbox.core.extraction.builtin import BuiltinExtractor
from callingbox.core.extraction.exceptions import ExtractorError, ExtractorOutputError, ExtractorUnavailable
from callingbox.core.extraction.factory import ExtractorFactory, model_of
from callingbox.core.extraction.openai_compat import OpenAICompatibleExtractor
from callingbox.core.returns_schema import to_json_schema
from callingbox.core.settings import Settings

SCHEMA = to_json_schema({"confirmed": "boolean", "party_size": "integer"})
TRANSCRIPT = [{"party": "agent", "text": "How many of you, and is it confirmed?", "start_ms": 0, "end_ms": 1,
               "interrupted": False},
              {"party": "caller", "text": "Four of us, and yes it's confirmed.", "start_ms": 2, "end_ms": 3,
               "interrupted": False}]


def completion(*, arguments: Any = None, content: Any = None, name: str = "record_call_result") -> dict[str, Any]:
    """A chat completion shaped like OpenAI's (and Ollama's /v1) reply."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if arguments is not None:
        message["tool_calls"] = [{"id": "call_Vx1", "type": "function",
                                  "function": {"name": name, "arguments": json.dumps(arguments)}}]
    return {"id": "chatcmpl-9", "object": "chat.completion", "created": 1795300000, "model": "llama3.1",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if arguments is not None else "stop"}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330}}


class ChatServer:
    """A loopback server answering ``POST /v1/chat/completions`` from a queue, recording requests."""

    def __init__(self) -> None:
        self.replies: deque[tuple[int, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                server.requests.append(json.loads(self.rfile.read(length)))
                server.headers.append(dict(self.headers))
                status, body = server.replies.popleft() if self.path == "/v1/chat/completions" else (404, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


def test_the_function_is_forced_and_its_arguments_are_the_answer(chat: ChatServer) -> None:
    chat.replies.append((200, completion(arguments={"result": {"confirmed": True, "party_size": 4},
                                                    "evidence": {"party_size": "Four of us"}})))
    extractor = OpenAICompatibleExtractor(base_url=chat.base_url, model="llama3.1", api_key="sk-local")
    raw = extractor.extract(SCHEMA, TRANSCRIPT, feedback="- party_size: \"four\" is not of type integer or null",
                            facts=CallFacts(instructions="Book a table."))
    extractor.close()
    request = chat.requests[0]
    assert request["model"] == "llama3.1" and request["temperature"] == 0
    assert request["tool_choice"] == {"type": "function", "function": {"name": "record_call_result"}}
    assert [tool["function"]["name"] for tool in request["tools"]] == ["record_call_result"]
    assert request["tools"][0]["function"]["parameters"]["properties"]["result"] == SCHEMA
    assert "was refused" in request["messages"][1]["content"] and "party_size" in request["messages"][1]["content"]
    assert chat.headers[0]["Authorization"] == "Bearer sk-local"
    assert raw.values == {"confirmed": True, "party_size": 4} and raw.evidence == {"party_size": "Four of us"}


def test_a_server_answering_in_content_is_accepted(chat: ChatServer) -> None:
    chat.replies.append((200, completion(content=json.dumps({"result": {"confirmed": False, "party_size": None},
                                                             "evidence": {}}))))
    raw = OpenAICompatibleExtractor(base_url=chat.base_url, model="m").extract(SCHEMA, TRANSCRIPT)
    assert raw.values == {"confirmed": False, "party_size": None}


@pytest.mark.parametrize(("status", "body", "error"), [
    (503, {"error": "loading model"}, ExtractorUnavailable),
    (429, {"error": "rate limited"}, ExtractorUnavailable),
    (400, {"error": "tools not supported"}, ExtractorError),
    (200, completion(content="The caller confirmed."), ExtractorOutputError),
    (200, completion(arguments={"result": {}}, name="other_tool"), ExtractorOutputError),
    (200, {"unexpected": True}, ExtractorOutputError),
])
def test_failures_by_kind(chat: ChatServer, status: int, body: Any, error: type) -> None:
    chat.replies.append((status, body))
    with pytest.raises(error):
        OpenAICompatibleExtractor(base_url=chat.base_url, model="m").extract(SCHEMA, TRANSCRIPT)


def test_an_unreachable_server_is_unavailable(chat: ChatServer) -> None:
    url = chat.base_url
    chat.close()
    with pytest.raises(ExtractorUnavailable):
        OpenAICompatibleExtractor(base_url=url, model="m").extract(SCHEMA, TRANSCRIPT)


def test_models_route_like_the_gateway(chat: ChatServer) -> None:
    settings = Settings(default_llm_model="builtin")
    factory = ExtractorFactory(settings, environ={"CALLINGBOX_OPENAI_BASE_URL": chat.base_url})
    assert isinstance(factory("builtin"), BuiltinExtractor)
    openai = factory("openai:qwen2.5")
    assert isinstance(openai, OpenAICompatibleExtractor) and openai.model == "openai:qwen2.5"
    assert isinstance(factory("bedrock:amazon.nova-lite-v1:0"), BedrockExtractor)
    assert factory("bedrock:amazon.nova-lite-v1:0").model == "amazon.nova-lite-v1:0"
    assert factory("anthropic.claude-3-haiku-20240307-v1:0").model == "anthropic.claude-3-haiku-20240307-v1:0"
    with pytest.raises(ExtractorError, match="CALLINGBOX_OPENAI_BASE_URL"):
        ExtractorFactory(settings, environ={})("openai:qwen2.5")
    with pytest.raises(ExtractorError):
        factory("openai:")
    assert model_of({"agent_snapshot": {"llm_model": None}}, settings) == "builtin"
    assert model_of({"agent_snapshot": {"llm_model": "openai:x"}}, settings) == "openai:x"
