"""OpenAICompatible against a real HTTP server on loopback that streams like OpenAI's API.

The server (``http.server`` in a thread) answers ``POST /v1/chat/completions`` with chunked
server-sent events, replaying a scripted list of chunks: text deltas, tool calls whose arguments
arrive split across chunks, finish reasons, usage. It records each request for assertions.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional

import pytest

from streaming_fargate.engines.llm import (
    Finished,
    LlmEvent,
    Message,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from streaming_fargate.engines.openai_compat import LlmUnavailable, OpenAICompatible

WAIT_S = 5.0  # the longest any test waits for the server to notice something
POLL_S = 0.02  # how often the server thread checks for shutdown (the default 0.5 s slows teardown)


def _chunk(delta: dict[str, Any], finish: Optional[str] = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


class _Script:
    """What the server answers next: SSE chunks, or an HTTP error, or raw lines."""

    def __init__(self) -> None:
        self.status = 200
        self.error_body = b""
        self.lines: list[str] = []
        self.endless = False  # keep streaming deltas until the client goes away
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.client_gone = threading.Event()

    def stream(self, *chunks: dict[str, Any], done: bool = True) -> None:
        self.lines = [f"data: {json.dumps(chunk)}" for chunk in chunks] + (["data: [DONE]"] if done else [])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: _Script

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.script.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        # One request per connection: the client may drop a pooled connection while the server
        # would be waiting on it for a next request, and that reset is noise, not a failure.
        self.close_connection = True
        if self.script.status != 200:
            self.send_response(self.script.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.script.error_body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(self.script.error_body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            # OpenAI separates events with a blank line; a keep-alive comment shows up now and then.
            self._write_chunk(b": keep-alive\n\n")
            for line in self.script.lines:
                self._write_chunk(f"{line}\n\n".encode())
            while self.script.endless:
                self._write_chunk(f"data: {json.dumps(_chunk({'content': 'more '}))}\n\n".encode())
                if self.script.client_gone.wait(0.02):
                    return
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.script.client_gone.set()


@pytest.fixture
def server() -> Iterator[tuple[str, _Script]]:
    script = _Script()
    handler = type("Handler", (_Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    script.endless = False
    httpd.shutdown()
    httpd.server_close()
    thread.join(WAIT_S)


def _run(model: OpenAICompatible, messages: list[Message], tools: tuple[ToolSpec, ...] = ()) -> list[LlmEvent]:
    async def collect() -> list[LlmEvent]:
        return [event async for event in model.stream(system="Be brief.", messages=messages, tools=list(tools))]

    return asyncio.run(collect())


def test_text_deltas_stream_in_order_then_finished_with_usage(server: tuple[str, _Script]) -> None:
    base_url, script = server
    script.stream(_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hel"}), _chunk({"content": "lo"}),
                  _chunk({"content": " there."}), _chunk({}, "stop"),
                  {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3,
                                                                 "total_tokens": 15}})
    events = _run(OpenAICompatible(base_url=base_url, model="llama3.2"), [Message("user", "hi")])
    assert events == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" there."),
                      Finished("end_turn", {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15})]


def test_split_tool_call_deltas_become_complete_tool_calls(server: tuple[str, _Script]) -> None:
    base_url, script = server
    script.stream(
        _chunk({"content": "Goodbye!"}),
        _chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                "function": {"name": "end_call", "arguments": ""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"rea"}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                "function": {"name": "lookup", "arguments": "{\"q\": "}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "son\": \"comp"}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": "\"a b\"}"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "leted\"}"}}]}),
        _chunk({}, "tool_calls"),
    )
    events = _run(OpenAICompatible(base_url=base_url, model="m"), [Message("user", "bye")])
    assert events == [TextDelta("Goodbye!"), ToolCall("call_a", "end_call", {"reason": "completed"}),
                      ToolCall("call_b", "lookup", {"q": "a b"}), Finished("tool_use")]


def test_request_carries_model_messages_tools_and_key_in_openai_format(server: tuple[str, _Script]) -> None:
    base_url, script = server
    script.stream(_chunk({"content": "ok"}), _chunk({}, "stop"))
    history = [
        Message("user", "Book for four"),
        Message("assistant", "", (ToolCall("call_1", "book", {"party": 4}),)),
        Message("tool", "{\"ok\": true}", tool_call_id="call_1"),
    ]
    tool = ToolSpec("book", "Book a table", {"type": "object", "properties": {"party": {"type": "integer"}}})
    _run(OpenAICompatible(base_url=base_url + "/", model="qwen2.5", api_key="sk-test"), history, (tool,))
    headers, body = script.requests[-1]
    assert headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "qwen2.5" and body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Book for four"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "book", "arguments": "{\"party\": 4}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"ok\": true}"},
    ]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "book", "description": "Book a table", "parameters": tool.parameters}}]


def test_no_key_no_authorization_header_and_no_tools_key(server: tuple[str, _Script]) -> None:
    base_url, script = server
    script.stream(_chunk({"content": "ok"}), _chunk({}, "stop"))
    _run(OpenAICompatible(base_url=base_url, model="m"), [Message("user", "hi")])
    headers, body = script.requests[-1]
    assert "authorization" not in headers and "tools" not in body


@pytest.mark.parametrize("status", [401, 404, 500, 503])
def test_http_errors_raise_llm_unavailable_with_the_status(server: tuple[str, _Script], status: int) -> None:
    base_url, script = server
    script.status, script.error_body = status, b'{"error": {"message": "model not loaded"}}'
    with pytest.raises(LlmUnavailable, match="model not loaded") as caught:
        _run(OpenAICompatible(base_url=base_url, model="m"), [Message("user", "hi")])
    assert caught.value.status_code == status


def test_unreachable_server_raises_llm_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LlmUnavailable, match="cannot reach"):
        _run(OpenAICompatible(base_url=f"http://127.0.0.1:{port}/v1", model="m"), [Message("user", "hi")])


def test_malformed_or_truncated_streams_raise_llm_unavailable(server: tuple[str, _Script]) -> None:
    base_url, script = server
    model = OpenAICompatible(base_url=base_url, model="m")
    script.lines = ["data: {not json"]
    with pytest.raises(LlmUnavailable, match="malformed"):
        _run(model, [Message("user", "hi")])
    script.stream(_chunk({"content": "cut off"}), done=False)
    with pytest.raises(LlmUnavailable, match="ended before"):
        _run(model, [Message("user", "hi")])
    script.stream(_chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}),
                  _chunk({}, "tool_calls"))
    with pytest.raises(LlmUnavailable, match="invalid JSON"):
        _run(model, [Message("user", "hi")])


def test_closing_the_iterator_closes_the_http_stream(server: tuple[str, _Script]) -> None:
    base_url, script = server
    script.stream(_chunk({"content": "first "}), done=False)
    script.endless = True

    async def take_one() -> LlmEvent:
        stream = OpenAICompatible(base_url=base_url, model="m").stream(system="", messages=[Message("user", "hi")],
                                                                        tools=[])
        first = await stream.__anext__()
        await stream.aclose()
        return first

    assert asyncio.run(take_one()) == TextDelta("first ")
    assert script.client_gone.wait(WAIT_S), "the server kept streaming to a client that left"
