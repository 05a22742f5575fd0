"""``transfer_call`` over a real websocket: announcement heard, transfer recorded, then the stream closed."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Optional

import pytest

from callingbox.core.settings import Settings
from callingbox.core.store import calls as call_store
from callingbox.core.store.transcripts import list_segments
from streaming_fargate.conversation import DynamoCallStore
from streaming_fargate.engines.llm import Message, TextDelta, ToolCall
from streaming_fargate.processors.turns import DEFAULT_TRANSFER_ANNOUNCEMENT, transfer_target
from tests.gateway.fakes import (
    FakeEngines,
    FakeLlm,
    FakeStt,
    eventually,
    extraction_jobs,
    media_client,
    place_call,
    running_gateway,
    stream_token,
    voiced_ulaw,
)

pytestmark = pytest.mark.integration

TARGET = "+14155550123"


class WatchedStore(DynamoCallStore):
    """The real store, noting when the transfer write returned."""

    def __init__(self) -> None:
        super().__init__(Settings.from_env())
        self.transfer_written_at: Optional[float] = None

    def record_transfer(self, workspace_id: str, call_id: str, transfer: dict[str, Any]) -> bool:
        recorded = super().record_transfer(workspace_id, call_id, transfer)
        self.transfer_written_at = time.monotonic()
        return recorded


def run_call(workspace: Any, call_id: str, engines: FakeEngines, *, hang_up_after: Optional[str] = None,
             store: Any = None) -> tuple[Any, dict[str, float]]:
    """The caller speaks once; then waits for the gateway to close (or hears ``hang_up_after`` and hangs up)."""
    seen: dict[str, float] = {}

    async def scenario() -> Any:
        async with running_gateway(engines, store=store) as gateway:
            client = await media_client(gateway.url, stream_token(workspace.id, call_id)).connect()
            spoke = await client.play(voiced_ulaw(0.5))
            seen["first_audio"] = await client.wait_for_audio(10, after=spoke)
            if hang_up_after is None:
                await asyncio.wait_for(client.closed.wait(), 10)
                seen["closed"] = time.monotonic()
            else:
                await eventually(lambda: " ".join(engines.tts.requests) == hang_up_after, 10)
                # every chunk's mark came back: all of it played
                await eventually(lambda: len(client.marks_echoed) == len(engines.tts.requests), 10)
                await client.hangup()
            await eventually(lambda: gateway.open_streams == 0, 10)
        return client

    return asyncio.run(scenario()), seen


def segments(workspace: Any, call_id: str) -> list[tuple[str, str, bool]]:
    return [(s["party"], s["text"], s["interrupted"]) for s in list_segments(workspace.id, call_id)]


def test_transfer_announces_records_the_transfer_then_closes_the_stream(api: Any, workspace: Any,
                                                                       local_stack: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["put me through to sales"]),
                          llm=FakeLlm([ToolCall("t1", "transfer_call", {"to": "+1 (415) 555-0123"})]))
    store = WatchedStore()
    client, seen = run_call(workspace, call_id, engines, store=store)

    # the announcement played in full before the gateway closed the stream
    assert engines.tts.requests == [DEFAULT_TRANSFER_ANNOUNCEMENT]
    assert len(client.heard_audio) / 8000 >= engines.tts.duration_s(DEFAULT_TRANSFER_ANNOUNCEMENT) - 0.02
    marks = {event.name for event in client.received_events if event.event == "mark"}
    assert marks and marks == {echo.name for echo in client.marks_echoed if not echo.cleared}
    assert client.close_code == 1000
    # the transfer was on the call before the stream closed (the carrier's webhook reads it then)
    assert store.transfer_written_at is not None
    assert max(echo.at for echo in client.marks_echoed) <= store.transfer_written_at <= seen["closed"]
    doc = call_store.get_call(workspace.id, call_id).doc
    transfer = doc["transfer"]
    assert (transfer["to"], transfer["status"]) == (TARGET, "requested")
    assert doc["answered_at"] <= transfer["requested_at"] <= doc["ended_at"]
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "transferred")
    assert segments(workspace, call_id) == [("caller", "put me through to sales", False),
                                            ("agent", DEFAULT_TRANSFER_ANNOUNCEMENT, False)]
    assert extraction_jobs(local_stack, call_id) == [{"workspace_id": workspace.id, "call_id": call_id}]
    # the model was offered the built-ins, transfer_call with its parameters
    tools = {tool.name: tool for tool in engines.llm.requests[0].tools}
    assert {"end_call", "transfer_call", "send_dtmf"} <= set(tools)
    assert tools["transfer_call"].parameters["required"] == ["to"]
    assert set(tools["transfer_call"].parameters["properties"]) == {"to", "announcement"}


@pytest.mark.parametrize(("events", "said"), [
    ([ToolCall("t1", "transfer_call", {"to": TARGET, "announcement": "Connecting you to sales."})],
     "Connecting you to sales."),
    ([TextDelta("One moment please."), ToolCall("t1", "transfer_call", {"to": TARGET})], "One moment please."),
])
def test_the_announcement_is_the_argument_or_what_the_model_said(api: Any, workspace: Any, events: list,
                                                                 said: str) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["sales please"]), llm=FakeLlm(events))
    run_call(workspace, call_id, engines)
    assert " ".join(engines.tts.requests) == said
    assert segments(workspace, call_id)[-1] == ("agent", said, False)
    doc = call_store.get_call(workspace.id, call_id).doc
    assert (doc["status"], doc["end_reason"], doc["transfer"]["to"]) == ("completed", "transferred", TARGET)


def test_a_number_that_is_not_e164_is_refused_to_the_model_and_the_call_goes_on(api: Any, workspace: Any) -> None:
    call_id = place_call(api)

    def reply(messages: list[Message]) -> Any:
        if messages[-1].role == "tool":
            return "Sorry, I could not transfer you."
        return [ToolCall("t1", "transfer_call", {"to": "555-0123"})]

    engines = FakeEngines(stt=FakeStt(["transfer me"]), llm=FakeLlm(reply))
    run_call(workspace, call_id, engines, hang_up_after="Sorry, I could not transfer you.")
    refusal = engines.llm.requests[1].messages[-1]
    assert refusal.role == "tool" and refusal.tool_call_id == "t1"
    assert "E.164" in json.loads(refusal.content)["error"]
    assert " ".join(engines.tts.requests) == "Sorry, I could not transfer you."
    doc = call_store.get_call(workspace.id, call_id).doc
    assert (doc["status"], doc["end_reason"]) == ("completed", "caller_hangup")  # the caller hung up, not us
    assert "transfer" not in doc


class FailingStore(DynamoCallStore):
    def __init__(self) -> None:
        super().__init__(Settings.from_env())

    def record_transfer(self, workspace_id: str, call_id: str, transfer: dict[str, Any]) -> bool:
        raise ConnectionError("the table is unreachable")


def test_a_transfer_that_cannot_be_recorded_ends_the_call_as_failed(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["sales please"]), llm=FakeLlm([ToolCall("t1", "transfer_call", {"to": TARGET})]))
    client, _ = run_call(workspace, call_id, engines, store=FailingStore())
    assert client.close_code == 1011  # the carrier's webhook finds nobody to dial and hangs up
    doc = call_store.get_call(workspace.id, call_id).doc
    assert (doc["status"], doc["end_reason"]) == ("failed", "error:transfer_not_recorded")
    assert "transfer" not in doc


@pytest.mark.parametrize(("to", "number"), [
    ("+14155550123", "+14155550123"), ("+1 (415) 555-0123", "+14155550123"), ("+44 20 7946 0958", "+442079460958"),
    ("4155550123", None), ("+0155550123", None), ("+1415555012345678", None), ("sales", None), (None, None),
])
def test_transfer_target_accepts_e164_with_punctuation_only(to: Any, number: Optional[str]) -> None:
    assert transfer_target({"to": to}) == number
