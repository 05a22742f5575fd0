"""Helpers for the extraction tests: calls in a given end state, dialogue-made transcripts, SQS events."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from callingbox.core.store import calls as call_store
from callingbox.core.store import transcripts
from streaming_fargate.engines.builtin_dialogue import BuiltinDialogue
from streaming_fargate.engines.llm import Message, TextDelta, ToolCall


def create_agent(api: Any, *, returns: Optional[dict[str, Any]] = None, **fields: Any) -> dict[str, Any]:
    body = {"name": "Extraction test", "type": "outbound", "number_ids": ["pn_abc123"], **fields}
    if returns is not None:
        body["returns"] = returns
    response = api.post("/v1/agents", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ended_call(api: Any, workspace: Any, *, agent: Optional[dict[str, Any]] = None,
               returns: Optional[dict[str, Any]] = None, outcome: str = "answered",
               segments: Sequence[tuple[str, str]] = (), answered_at: int = 1_795_000_000, **agent_fields: Any) -> str:
    """A dispatched call moved to an end state (``answered`` | ``voicemail`` | ``unanswered``),
    with ``segments`` ``(party, text)`` stored as its transcript. Returns its id."""
    agent = agent or create_agent(api, returns=returns, **agent_fields)
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
    assert response.status_code == 200, response.text
    call_id = str(response.json()["id"])
    ws = workspace.id
    call_store.transition_call(ws, call_id, "ringing", started_at=answered_at - 5)
    if outcome == "answered":
        call_store.transition_call(ws, call_id, "in_progress", answered_at=answered_at, answered_by="human")
        call_store.transition_call(ws, call_id, "completed", ended_at=answered_at + 60, end_reason="agent_hangup")
    elif outcome == "voicemail":
        call_store.transition_call(ws, call_id, "no_answer", answered_by="machine", end_reason="voicemail",
                                   ended_at=answered_at + 20)
    elif outcome == "unanswered":
        call_store.transition_call(ws, call_id, "no_answer", end_reason="no_answer", ended_at=answered_at + 30)
    else:
        raise ValueError(outcome)
    store_transcript(ws, call_id, segments)
    return call_id


def store_transcript(workspace_id: str, call_id: str, segments: Iterable[tuple[str, str]]) -> None:
    for seq, (party, text) in enumerate(segments):
        start = seq * 3000
        transcripts.append_segment(workspace_id, call_id, seq, party, text, start, start + 2500)


def dialogue_transcript(returns: dict[str, Any], answers: Sequence[str], *, today: dt.date,
                        first_message: Optional[str] = None) -> list[tuple[str, str]]:
    """The transcript of a call run by the gateway's builtin dialogue, the caller saying ``answers``
    in turn: each agent segment is the dialogue's reply, exactly as the gateway would speak it."""
    dialogue = BuiltinDialogue({"returns": returns, "first_message": first_message}, today=lambda: today)
    messages: list[Message] = []
    segments: list[tuple[str, str]] = []

    def reply() -> tuple[str, bool]:
        async def run() -> list[Any]:
            return [event async for event in dialogue.stream(system="", messages=messages, tools=[])]

        events = asyncio.run(run())
        text = "".join(event.text for event in events if isinstance(event, TextDelta))
        return text, any(isinstance(event, ToolCall) and event.name == "end_call" for event in events)

    text, ended = reply()
    segments.append(("agent", text))
    messages.append(Message("assistant", text))
    for answer in answers:
        if ended:
            break
        segments.append(("caller", answer))
        messages.append(Message("user", answer))
        text, ended = reply()
        segments.append(("agent", text))
        messages.append(Message("assistant", text))
    assert ended, f"the dialogue did not finish: {segments}"
    return segments


def sqs_record(body: Any, *, receive_count: int = 1, message_id: Optional[str] = None) -> dict[str, Any]:
    """One record of a Lambda SQS event, shaped as Lambda delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1795000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:callingbox-extraction",
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class Emitted:
    """Records ``on_processed`` calls."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, workspace_id: str, call_doc: dict[str, Any], event_type: str) -> None:
        self.events.append((event_type, call_doc["id"], call_doc))

    def types_for(self, call_id: str) -> list[str]:
        return [event_type for event_type, cid, _ in self.events if cid == call_id]


class CountingExtractor:
    """Wraps an extractor and counts how often it was asked (the model-call count)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model = inner.model
        self.calls: list[Optional[str]] = []

    def extract(self, schema: Any, transcript: Any, *, feedback: Optional[str] = None, facts: Any = None) -> Any:
        self.calls.append(feedback)
        kwargs = {"facts": facts} if facts is not None else {}
        return self.inner.extract(schema, transcript, feedback=feedback, **kwargs)


class LambdaContext:
    """The parts of Lambda's context object the handler and Powertools read."""

    function_name = "callingbox-extraction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:callingbox-extraction"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def __init__(self, timeout_ms: int = 300_000) -> None:
        import time

        self._deadline = time.monotonic() * 1000 + timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int(self._deadline - time.monotonic() * 1000))


def lambda_context() -> LambdaContext:
    return LambdaContext()
