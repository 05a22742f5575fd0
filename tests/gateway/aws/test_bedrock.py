"""BedrockLlm against a real boto3 ``bedrock-runtime`` client and botocore's own event-stream parser.

How the SDK is driven: botocore's ``Stubber`` cannot return an event stream (its response validator
wants a dict where ``ConverseStream`` returns an ``EventStream``; boto/botocore#1621), so these
tests answer one step later instead, at the HTTP layer, through botocore's documented
``before-send`` hook. Everything else is the real SDK: parameter validation, REST-JSON request
serialization and SigV4 signing on the way out; on the way back botocore's REST-JSON parser builds
its ``EventStream`` over our in-memory HTTP body, decodes the binary frames (prelude, headers,
payload, both CRCs), and parses each event against the service model. The frames are encoded here,
independently of any SDK code, the way the service sends them (``:event-type``,
``:content-type``, ``:message-type`` string headers; JSON payloads with the ``p`` padding field),
and the body hands them over in odd-sized pieces so frames straddle reads.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
import zlib
from typing import Any, Iterator, Optional, Union

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EventStreamError

from streaming_fargate.engines.bedrock import CALL_START_TEXT, BedrockLlm, BedrockStreamError
from streaming_fargate.engines.llm import Finished, LlmEvent, Message, TextDelta, ToolCall, ToolSpec

MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
DEADLINE_S = 5.0
SAVE_FIELD = ToolSpec(
    name="save_field",
    description="Record one returns field.",
    parameters={"type": "object", "properties": {"field": {"type": "string"}, "value": {"type": "string"}}},
)


# --- the wire: AWS event-stream frames --------------------------------------------------------


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC), headers, payload, CRC."""
    encoded_headers = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded_headers += struct.pack("!B", len(raw_name)) + raw_name
        encoded_headers += b"\x07" + struct.pack("!H", len(raw_value)) + raw_value  # 7 = string
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded_headers))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + encoded_headers + payload
    return message + struct.pack("!I", zlib.crc32(message))


_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def event(event_type: str, body: dict[str, Any]) -> bytes:
    """A ConverseStream event frame as Bedrock sends it (with its ``p`` padding member)."""
    payload = dict(body, p=_PADDING[: 5 + len(json.dumps(body)) % 40])
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, json.dumps(payload, separators=(",", ":")).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An in-stream service exception frame."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_frame(headers, json.dumps({"message": message}).encode())


def text_delta(index: int, text: str) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": text}})


def tool_start(index: int, tool_use_id: str, name: str) -> bytes:
    return event("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}}})


def tool_input(index: int, fragment: str) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": fragment}}})


def block_stop(index: int) -> bytes:
    return event("contentBlockStop", {"contentBlockIndex": index})


MESSAGE_START = event("messageStart", {"role": "assistant"})


def message_stop(reason: str) -> bytes:
    return event("messageStop", {"stopReason": reason})


def metadata(input_tokens: int, output_tokens: int, latency_ms: int) -> bytes:
    usage = {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens}
    return event("metadata", {"usage": usage, "metrics": {"latencyMs": latency_ms}})


class EventStreamBody:
    """The raw HTTP body botocore reads (urllib3's ``stream()``/``close()``), served from memory.

    ``parts`` are frame bytes, or a ``threading.Event`` at which the "network" stalls until the test
    sets it or the body is closed; closing ends the body, as a closed connection does.
    """

    def __init__(self, parts: list[Union[bytes, threading.Event]], *, piece: int = 7) -> None:
        self._parts = parts
        self._piece = piece
        self.closed = threading.Event()
        self.bytes_read = 0

    def stream(self, amt: int = 2**16, decode_content: Optional[bool] = None) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, threading.Event):
                while not (part.is_set() or self.closed.is_set()):
                    part.wait(0.01)
                continue
            for start in range(0, len(part), self._piece):
                if self.closed.is_set():
                    return
                self.bytes_read += len(part[start : start + self._piece])
                yield part[start : start + self._piece]

    def close(self) -> None:
        self.closed.set()


class BedrockRuntimeDouble:
    """Answers a real bedrock-runtime client's HTTP requests (``before-send``) and records them."""

    def __init__(self) -> None:
        self.client = boto3.session.Session().client(
            "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.client.meta.events.register("before-send.bedrock-runtime.ConverseStream", self._answer)
        self.requests: list[Any] = []
        self._responses: list[tuple[int, dict[str, str], Any]] = []
        self.factory_threads: list[str] = []

    def reply(self, body: EventStreamBody) -> EventStreamBody:
        self._responses.append(
            (200, {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-1"}, body)
        )
        return body

    def fail(self, status: int, error_type: str, message: str) -> None:
        body = EventStreamBody([json.dumps({"message": message}).encode()], piece=1 << 16)
        self._responses.append((status, {"content-type": "application/json", "x-amzn-errortype": error_type}, body))

    def factory(self) -> Any:
        self.factory_threads.append(threading.current_thread().name)
        return self.client

    def request_json(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[index].body)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        self.requests.append(request)
        status, headers, body = self._responses.pop(0)
        return AWSResponse(request.url, status, headers, body)


@pytest.fixture
def bedrock() -> BedrockRuntimeDouble:
    return BedrockRuntimeDouble()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, DEADLINE_S))


async def collect(llm: BedrockLlm, messages: list[Message], tools: tuple[ToolSpec, ...] = ()) -> list[LlmEvent]:
    return [e async for e in llm.stream(system="You are a polite caller.", messages=messages, tools=list(tools))]


HELLO = [Message(role="user", content="Hello?")]


def test_text_reply_streams_deltas_then_finished_with_usage(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a text reply as Bedrock streams it
    bedrock.reply(
        EventStreamBody(
            [MESSAGE_START, text_delta(0, "Hi, this is"), text_delta(0, " Sam."), block_stop(0), message_stop("end_turn"), metadata(31, 7, 412)]
        )
    )
    llm = BedrockLlm(MODEL_ID, client_factory=bedrock.factory)

    # WHEN the reply is streamed
    events = run(collect(llm, HELLO))

    # THEN text deltas arrive in order and one Finished closes the reply
    assert events == [
        TextDelta("Hi, this is"),
        TextDelta(" Sam."),
        Finished(
            stop_reason="end_turn", usage={"input_tokens": 31, "output_tokens": 7, "total_tokens": 38, "latency_ms": 412}
        ),
    ]
    # AND the request went to ConverseStream for the model, built and signed by the SDK
    request = bedrock.requests[0]
    assert request.url == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{MODEL_ID.replace(':', '%3A')}/converse-stream"
    assert request.headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert bedrock.request_json()["system"] == [{"text": "You are a polite caller."}]
    # AND the client was built off the event loop
    assert bedrock.factory_threads == ["bedrock-converse-stream"]


def test_conversation_maps_to_converse_messages_and_tools(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a conversation where the agent spoke first, called a tool and got its result
    bedrock.reply(EventStreamBody([MESSAGE_START, text_delta(0, "Thanks."), block_stop(0), message_stop("end_turn")]))
    call = ToolCall(id="tooluse_1", name="save_field", arguments={"field": "name", "value": "Ada"})
    messages = [
        Message(role="assistant", content="Hi, who am I speaking with?"),
        Message(role="user", content="Ada."),
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content='{"ok": true}', tool_call_id="tooluse_1"),
        Message(role="user", content="Is that all?"),
    ]

    # WHEN a reply is requested with one tool
    run(collect(BedrockLlm(MODEL_ID, client_factory=bedrock.factory), messages, (SAVE_FIELD,)))

    # THEN the SDK sent Converse's shapes: alternating roles, toolUse/toolResult blocks, toolConfig
    body = bedrock.request_json()
    assert body["messages"] == [
        {"role": "user", "content": [{"text": CALL_START_TEXT}]},
        {"role": "assistant", "content": [{"text": "Hi, who am I speaking with?"}]},
        {"role": "user", "content": [{"text": "Ada."}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "save_field", "input": {"field": "name", "value": "Ada"}}}]},
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": '{"ok": true}'}]}},
                {"text": "Is that all?"},
            ],
        },
    ]
    assert body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "save_field", "description": "Record one returns field.", "inputSchema": {"json": SAVE_FIELD.parameters}}}]
    }
    assert body["inferenceConfig"] == {"maxTokens": 1024}


def test_tool_use_input_fragments_become_one_tool_call(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a tool use whose JSON input arrives split mid-token across deltas
    fragments = ['{"fi', 'eld": "na', 'me", "val', 'ue": "Ada Lo', 'velace"}']
    bedrock.reply(
        EventStreamBody(
            [MESSAGE_START, tool_start(0, "tooluse_abc", "save_field")]
            + [tool_input(0, f) for f in fragments]
            + [block_stop(0), message_stop("tool_use"), metadata(50, 20, 300)]
        )
    )

    # WHEN the reply is streamed
    events = run(collect(BedrockLlm(MODEL_ID, client_factory=bedrock.factory), HELLO, (SAVE_FIELD,)))

    # THEN exactly one ToolCall carries the reassembled arguments, then Finished(tool_use)
    assert events[0] == ToolCall(id="tooluse_abc", name="save_field", arguments={"field": "name", "value": "Ada Lovelace"})
    assert isinstance(events[1], Finished) and events[1].stop_reason == "tool_use"
    assert len(events) == 2


def test_text_and_tool_use_in_one_reply(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a reply that speaks, then calls a tool with an empty input
    bedrock.reply(
        EventStreamBody(
            [
                MESSAGE_START,
                text_delta(0, "Got it, "),
                text_delta(0, "saving that now."),
                block_stop(0),
                tool_start(1, "tooluse_xyz", "end_call"),
                tool_input(1, ""),
                block_stop(1),
                message_stop("tool_use"),
                metadata(60, 25, 500),
            ]
        )
    )
    end_call = ToolSpec(name="end_call", description="Hang up.", parameters={"type": "object", "properties": {}})

    # WHEN the reply is streamed
    events = run(collect(BedrockLlm(MODEL_ID, client_factory=bedrock.factory), HELLO, (end_call,)))

    # THEN the text comes first, the tool call at its block's stop, Finished last
    assert events[:3] == [TextDelta("Got it, "), TextDelta("saving that now."), ToolCall(id="tooluse_xyz", name="end_call", arguments={})]
    assert events[3] == Finished(stop_reason="tool_use", usage={"input_tokens": 60, "output_tokens": 25, "total_tokens": 85, "latency_ms": 500})


def test_cancelling_mid_stream_stops_reading_and_closes_the_http_stream(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a reply whose network stalls after the first delta
    stall = threading.Event()
    body = bedrock.reply(
        EventStreamBody([MESSAGE_START, text_delta(0, "Let me"), stall, text_delta(0, " never arrive"), block_stop(0), message_stop("end_turn")])
    )
    llm = BedrockLlm(MODEL_ID, client_factory=bedrock.factory)
    received: list[LlmEvent] = []

    async def consume() -> None:
        async for item in llm.stream(system="", messages=HELLO, tools=[]):
            received.append(item)
            first.set()

    async def scenario() -> None:
        task = asyncio.create_task(consume())
        await first.wait()
        # WHEN the consumer is cancelled (barge-in) while the worker is blocked on the network
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    first = asyncio.Event()
    run(scenario())

    # THEN the HTTP body is closed, nothing more is read or delivered, and the worker ends
    assert body.closed.wait(DEADLINE_S)
    read_at_cancel = body.bytes_read
    _join_workers("bedrock-converse-stream")
    assert received == [TextDelta("Let me")]
    assert body.bytes_read == read_at_cancel


def test_closing_the_iterator_early_closes_the_http_stream(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a long reply
    body = bedrock.reply(EventStreamBody([MESSAGE_START] + [text_delta(0, f"word{i} ") for i in range(50)] + [message_stop("end_turn")]))
    llm = BedrockLlm(MODEL_ID, client_factory=bedrock.factory)

    async def first_then_aclose() -> LlmEvent:
        stream = llm.stream(system="", messages=HELLO, tools=[])
        item = await stream.__anext__()
        await stream.aclose()  # WHEN the consumer stops after one event
        return item

    # THEN the stream is closed at once, not at garbage collection
    assert run(first_then_aclose()) == TextDelta("word0 ")
    assert body.closed.wait(DEADLINE_S)
    _join_workers("bedrock-converse-stream")


def test_in_stream_service_exception_is_raised_after_what_came_before(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a stream that is throttled after the first delta
    bedrock.reply(EventStreamBody([MESSAGE_START, text_delta(0, "Sure"), exception("throttlingException", "Too many tokens, please wait.")]))
    received: list[LlmEvent] = []

    async def consume() -> None:
        async for item in BedrockLlm(MODEL_ID, client_factory=bedrock.factory).stream(system="", messages=HELLO, tools=[]):
            received.append(item)

    # WHEN it is consumed, THEN botocore's EventStreamError surfaces after the delta
    with pytest.raises(EventStreamError, match="throttlingException"):
        run(consume())
    assert received == [TextDelta("Sure")]


def test_request_error_is_raised_as_client_error(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN Bedrock refuses the request
    bedrock.fail(400, "ValidationException", "The provided model identifier is invalid.")

    # WHEN a reply is requested, THEN the SDK's ClientError reaches the caller
    with pytest.raises(ClientError, match="model identifier is invalid") as info:
        run(collect(BedrockLlm("nope", client_factory=bedrock.factory), HELLO))
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_stream_that_ends_before_message_stop_raises(bedrock: BedrockRuntimeDouble) -> None:
    # GIVEN a stream cut off after a delta
    bedrock.reply(EventStreamBody([MESSAGE_START, text_delta(0, "Hel")]))

    # WHEN consumed, THEN the truncation is an error, not a silent end_turn
    with pytest.raises(BedrockStreamError, match="before messageStop"):
        run(collect(BedrockLlm(MODEL_ID, client_factory=bedrock.factory), HELLO))


def test_invalid_tool_input_json_names_the_tool(bedrock: BedrockRuntimeDouble) -> None:
    bedrock.reply(
        EventStreamBody([MESSAGE_START, tool_start(0, "tooluse_bad", "save_field"), tool_input(0, '{"field": '), block_stop(0), message_stop("tool_use")])
    )
    with pytest.raises(BedrockStreamError, match="save_field"):
        run(collect(BedrockLlm(MODEL_ID, client_factory=bedrock.factory), HELLO, (SAVE_FIELD,)))


def _join_workers(name: str) -> None:
    for thread in threading.enumerate():
        if thread.name == name:
            thread.join(DEADLINE_S)
            assert not thread.is_alive(), f"{name} worker still running"
