"""Voicemail mode over a real websocket: the Twilio side is MediaStreamsClient, the store the local stack's.

The carrier's part (answering-machine detection, the redirect to ``mode=voicemail``) is played by
the test: it flags the call as the AMD webhook does and opens the streams the carrier would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from callingbox.core.call_states import CallStatus
from callingbox.core.clock import now_s
from callingbox.core.media.client import MediaStreamsClient
from callingbox.core.store import calls as call_store
from callingbox.core.store.transcripts import list_segments
from streaming_fargate.conversation import CallWrites
from tests.gateway.fakes import (
    FakeEngines,
    FakeLlm,
    FakeStt,
    MemoryCallStore,
    eventually,
    extraction_jobs,
    machine_answered,
    media_client,
    memory_call,
    place_call,
    running_gateway,
    stream_token,
)

pytestmark = pytest.mark.integration

GREETING = "Hi, this is the clinic."
MESSAGE = "Hi {{name}}, this is the clinic calling about your appointment. Please call us back."
FILLED = "Hi Ada, this is the clinic calling about your appointment. Please call us back."


def segments(workspace: Any, call_id: str) -> list[tuple[str, str, bool]]:
    return [(s["party"], s["text"], s["interrupted"]) for s in list_segments(workspace.id, call_id)]


def stored(workspace: Any, call_id: str) -> dict[str, Any]:
    return call_store.get_call(workspace.id, call_id).doc


def answered_by_machine(workspace: Any, call_id: str) -> None:
    """The call was answered 5 s ago and detection has just reported a machine."""
    call_store.transition_call(workspace.id, call_id, CallStatus.IN_PROGRESS, started_at=now_s() - 20,
                               answered_at=now_s() - 5)
    machine_answered(workspace.id, call_id)


async def closed_by_gateway(client: MediaStreamsClient, timeout: float = 15.0) -> float:
    await asyncio.wait_for(client.closed.wait(), timeout)
    return time.monotonic()


def heard_seconds(client: MediaStreamsClient) -> float:
    return len(client.heard_audio) / 8000


def voicemail_agent(api: Any, **overrides: Any) -> str:
    fields = {"first_message": GREETING, "voicemail_action": "leave_message", "voicemail_message": MESSAGE,
              "context": {"name": "Ada"}, **overrides}
    return place_call(api, **fields)


def test_a_machine_gets_the_message_after_the_redirect_and_the_call_ends_no_answer(
        api: Any, workspace: Any, local_stack: Any) -> None:
    call_id = voicemail_agent(api)
    engines = FakeEngines(stt=FakeStt(["leave a message after the tone"]), llm=FakeLlm("This must not be said."))
    token = stream_token(workspace.id, call_id)
    seen: dict[str, Any] = {}

    async def scenario() -> tuple[MediaStreamsClient, MediaStreamsClient]:
        async with running_gateway(engines) as gateway:
            # GIVEN the conversation that started at answer, while detection listened
            first = await media_client(gateway.url, token).connect()
            # (generous bounds: the greeting plays in real time, and CI runs two test workers at once)
            await first.wait_for_event("mark", 15, after=0.0)
            await eventually(lambda: first.marks_echoed, 15)  # the greeting played to the machine
            # WHEN detection reports a machine (after the beep) and the carrier redirects the call
            await asyncio.to_thread(machine_answered, workspace.id, call_id)
            await first.hangup()  # the redirect ends the first stream with ``stop``
            await eventually(lambda: gateway.open_streams == 0, 10)
            seen["after_first"] = stored(workspace, call_id)
            seen["tts_before"] = len(engines.tts.requests)
            second = await media_client(gateway.url, token, mode="voicemail").connect()
            seen["closed"] = await closed_by_gateway(second)
            await eventually(lambda: gateway.open_streams == 0, 10)
        return first, second

    _, second = asyncio.run(scenario())
    # THEN the first stream wrote no outcome: the call stays live for the voicemail stream
    assert (seen["after_first"]["status"], seen["after_first"]["end_reason"]) == ("in_progress", None)
    # the voicemail stream spoke the filled message in full, then the gateway hung up
    assert engines.tts.requests[seen["tts_before"]:] and " ".join(engines.tts.requests[seen["tts_before"]:]) == FILLED
    assert second.close_code == 1000
    expected = sum(engines.tts.duration_s(chunk) for chunk in engines.tts.requests[seen["tts_before"]:])
    assert expected - 0.02 <= heard_seconds(second) <= expected + 0.1  # every chunk played, none cut
    marks = {event.name for event in second.received_events if event.event == "mark"}
    assert marks and marks == {echo.name for echo in second.marks_echoed if not echo.cleared}
    assert seen["closed"] >= max(echo.at for echo in second.marks_echoed)  # hung up after it was heard
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["answered_by"], call["end_reason"], call["billable_seconds"]) == (
        "no_answer", "machine", "voicemail", 0)
    assert call["answered_at"] and call["ended_at"] >= call["answered_at"] and call["duration_seconds"] >= 0
    assert stored(workspace, call_id)["voicemail"] == {"left": True}
    # the greeting said to the machine is kept, and the message follows it
    assert segments(workspace, call_id) == [("agent", GREETING, False), ("agent", FILLED, False)]
    greeting, message = list_segments(workspace.id, call_id)
    assert message["start_ms"] >= greeting["end_ms"]  # on the call's clock, after the first stream
    assert engines.llm.requests == []  # nobody was answered
    assert len(engines.stt.sessions) == 1  # the first stream's; voicemail mode recognises nothing
    assert extraction_jobs(local_stack, call_id) == []


def test_without_a_machine_flag_the_stopped_stream_completes_as_usual(api: Any, workspace: Any,
                                                                      local_stack: Any) -> None:
    # the control for the test above: the same stop, no flag
    call_id = voicemail_agent(api)

    async def scenario() -> None:
        async with running_gateway(FakeEngines()) as gateway:
            client = await media_client(gateway.url, stream_token(workspace.id, call_id)).connect()
            await client.wait_for_event("mark", 15, after=0.0)
            await client.hangup()
            await eventually(lambda: gateway.open_streams == 0, 10)

    asyncio.run(scenario())
    call = stored(workspace, call_id)
    assert (call["status"], call["end_reason"], call["answered_by"]) == ("completed", "caller_hangup", None)
    assert extraction_jobs(local_stack, call_id) == [{"workspace_id": workspace.id, "call_id": call_id}]


def test_an_empty_voicemail_message_hangs_up_at_once(api: Any, workspace: Any) -> None:
    call_id = voicemail_agent(api)

    def no_message(doc: dict[str, Any]) -> dict[str, Any]:
        doc["agent_snapshot"]["voicemail_message"] = ""
        return doc

    call_store.update_call(workspace.id, call_id, no_message)
    answered_by_machine(workspace, call_id)
    engines = FakeEngines()

    async def scenario() -> tuple[MediaStreamsClient, float]:
        async with running_gateway(engines) as gateway:
            began = time.monotonic()
            client = await media_client(gateway.url, stream_token(workspace.id, call_id), mode="voicemail").connect()
            lasted = await closed_by_gateway(client, 5) - began
            await eventually(lambda: gateway.open_streams == 0, 10)
        return client, lasted

    client, lasted = asyncio.run(scenario())
    assert client.close_code == 1000 and lasted < 1.0
    assert [event for event in client.received_events if event.event == "media"] == []
    call = stored(workspace, call_id)
    assert (call["status"], call["answered_by"], call["end_reason"], call["billable_seconds"]) == (
        "no_answer", "machine", "voicemail", 0)
    assert call["voicemail"] == {"left": False}
    assert call["duration_seconds"] >= 20  # counted from the dial, while nothing of it is billable
    assert segments(workspace, call_id) == []


def test_a_machine_that_hangs_up_during_the_message_leaves_it_unfinished(api: Any, workspace: Any) -> None:
    call_id = voicemail_agent(api)
    answered_by_machine(workspace, call_id)
    engines = FakeEngines()

    async def scenario() -> None:
        async with running_gateway(engines) as gateway:
            client = await media_client(gateway.url, stream_token(workspace.id, call_id), mode="voicemail").connect()
            first_audio = await client.wait_for_audio(5, after=0.0)
            await asyncio.sleep(max(0.0, first_audio + 1.0 - time.monotonic()))  # a second of the message
            await client.hangup()
            await eventually(lambda: gateway.open_streams == 0, 10)

    asyncio.run(scenario())
    call = stored(workspace, call_id)
    assert (call["status"], call["answered_by"], call["end_reason"]) == ("no_answer", "machine", "voicemail")
    assert call["voicemail"] == {"left": False}
    ((party, text, interrupted),) = segments(workspace, call_id)
    assert party == "agent" and interrupted and text and FILLED.startswith(text) and text != FILLED


def test_an_unknown_stream_mode_is_refused(api: Any, workspace: Any) -> None:
    call_id = voicemail_agent(api)

    async def scenario() -> MediaStreamsClient:
        async with running_gateway(FakeEngines()) as gateway:
            client = media_client(gateway.url, stream_token(workspace.id, call_id), mode="conference")
            try:
                await client.connect()
            except ConnectionError:
                pass  # refused during the handshake
            await asyncio.wait_for(client.closed.wait(), 5)
        return client

    client = asyncio.run(scenario())
    assert client.close_code == 1008
    assert stored(workspace, call_id)["status"] == "queued"  # nothing was touched


def test_a_second_stream_puts_its_segments_after_the_stored_ones_even_when_some_land_late() -> None:
    store = MemoryCallStore()
    call_id = memory_call(store)
    store.append_segment("ws_bench", call_id, 0, "agent", "Hello.", 0, 900, False)
    store.append_segment("ws_bench", call_id, 1, "caller", "Hi.", 1000, 1400, False)

    def stale_tail() -> tuple[int, int]:
        # read just before the first stream's last segment landed
        count, end_ms = 1, 900
        store.append_segment("ws_bench", call_id, 2, "agent", "Late.", 1500, 1800, False)
        return count, end_ms

    async def write() -> None:
        writes = CallWrites(store, "ws_bench", call_id, follows=stale_tail)
        runner = asyncio.get_running_loop().create_task(writes.run())
        seq = writes.append("agent", "The message.", 0, 2000)
        writes.update(seq, end_ms=2500)
        assert await writes.drain(5)
        runner.cancel()

    asyncio.run(write())
    assert [(s["text"], s["start_ms"], s["end_ms"]) for s in store.transcript("ws_bench", call_id)] == [
        ("Hello.", 0, 900), ("Hi.", 1000, 1400), ("Late.", 1500, 1800), ("The message.", 900, 3400)]
