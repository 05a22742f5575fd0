"""Media Streams protocol conformance over a real websocket, against the local stack's store."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from callingbox.core.store import calls as call_store
from tests.gateway.fakes import (
    FakeEngines,
    FakeLlm,
    FakeStt,
    FakeTts,
    TwilioClient,
    eventually,
    place_call,
    running_gateway,
    stream_token,
    voiced_ulaw,
)

pytestmark = pytest.mark.integration


def test_healthz_answers_without_a_websocket() -> None:
    async def scenario() -> None:
        async with running_gateway(FakeEngines()) as gateway:
            async with httpx.AsyncClient(trust_env=False) as http:
                response = await http.get(f"http://127.0.0.1:{gateway.port}/healthz")
            assert response.status_code == 200 and response.text == "ok\n"

    asyncio.run(scenario())


@pytest.mark.parametrize("token", ["missing", "forged", "expired", "unknown call"])
def test_a_bad_token_closes_the_stream_with_policy_violation_and_loads_nothing(workspace: Any, token: str) -> None:
    tokens = {
        "missing": None,
        "forged": stream_token(workspace.id, "call_x")[:-4] + "0000",
        "expired": stream_token(workspace.id, "call_x", ttl_s=-1),
        "unknown call": stream_token(workspace.id, "call_doesnotexist"),
    }
    engines = FakeEngines()

    async def scenario() -> None:
        async with running_gateway(engines) as gateway:
            async with TwilioClient(gateway.url, token=tokens[token]) as client:
                await client.wait_closed(5)
                assert client.close_code == 1008
                assert not client.events("media")
            assert engines.stt.sessions == [] and engines.llm.requests == []

    asyncio.run(scenario())


def test_a_call_that_already_ended_is_refused(api: Any, workspace: Any) -> None:
    call_id = place_call(api, first_message="Hello there.")
    assert api.post(f"/v1/calls/{call_id}/cancel").json()["status"] == "canceled"

    async def scenario() -> None:
        async with running_gateway(FakeEngines()) as gateway:
            async with TwilioClient(gateway.url, token=stream_token(workspace.id, call_id)) as client:
                await client.wait_closed(5)
                assert client.close_code == 1008 and not client.events("media")

    asyncio.run(scenario())
    assert api.get(f"/v1/calls/{call_id}").json()["status"] == "canceled"


def test_outgoing_media_is_base64_mulaw_in_160_byte_frames_with_a_mark_after_each_chunk(api: Any, workspace: Any
                                                                                         ) -> None:
    call_id = place_call(api, first_message="Hello, this is the clinic. How are you today?")
    engines = FakeEngines(tts=FakeTts(ms_per_char=20))

    async def scenario() -> TwilioClient:
        async with running_gateway(engines) as gateway:
            async with TwilioClient(gateway.url, token=stream_token(workspace.id, call_id)) as client:
                await client.wait_for(lambda: client.events("mark"), 5)
        return client

    client = asyncio.run(scenario())
    sid = client.side.stream_sid
    media = [json.loads(item.raw) for item in client.events("media")]
    assert media and all(m["streamSid"] == sid and set(m) == {"event", "streamSid", "media"} for m in media)
    payloads = [base64.b64decode(m["media"]["payload"], validate=True) for m in media]
    assert {len(payload) for payload in payloads} == {160}  # exactly one 20 ms frame each
    greeting_bytes = len("Hello, this is the clinic. How are you today?") * 20 * 8
    assert len(payloads) == -(-greeting_bytes // 160)  # the last frame padded, never split
    # one chunk (the cached greeting), so one mark, after all of its audio
    assert [item.event for item in client.received] == ["media"] * len(media) + ["mark"]
    mark = json.loads(client.received[-1].raw)
    assert mark == {"event": "mark", "streamSid": sid, "mark": {"name": mark["mark"]["name"]}}


def test_malformed_messages_are_skipped_and_the_call_goes_on(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["hello"]), llm=FakeLlm("Hi there."))

    async def scenario() -> None:
        async with running_gateway(engines) as gateway:
            async with TwilioClient(gateway.url, token=stream_token(workspace.id, call_id)) as client:
                for junk in ("not json", "[1, 2]", '{"no": "event"}', '{"event": "media", "media": {"payload": "%%%"}}',
                             '{"event": "media", "media": {"payload": "AAAA", "chunk": "x"}}', '{"event": "media"}',
                             '{"event": "start", "start": "nope"}', '{"event": "teleport"}', '{"event": "mark"}',
                             json.dumps({"event": "dtmf", "dtmf": {}}), b"\x00\xff binary"):
                    await client.send_raw(junk)
                spoke = await client.say(voiced_ulaw(0.5))
                await client.wait_for(lambda: client.first("media", after=spoke), 5)
                assert not client.closed.is_set()

    asyncio.run(scenario())
    assert api.get(f"/v1/calls/{call_id}").json()["status"] == "completed"


def test_an_abrupt_disconnect_fails_the_call_and_leaves_no_task_behind(api: Any, workspace: Any) -> None:
    call_id = place_call(api, first_message="Hello there, this is a longer greeting that is still playing.")
    engines = FakeEngines()

    async def scenario() -> None:
        async with running_gateway(engines) as gateway:
            baseline = set(asyncio.all_tasks())
            async with TwilioClient(gateway.url, token=stream_token(workspace.id, call_id)) as client:
                await client.wait_for(lambda: client.first("media"), 5)
                await eventually(lambda: engines.stt.sessions)
                await client.drop()
            await eventually(lambda: gateway.open_streams == 0, 10)
            await eventually(lambda: not (set(asyncio.all_tasks()) - baseline - {asyncio.current_task()}), 5)
            assert engines.stt.sessions[0].closed

    asyncio.run(scenario())
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("failed", "error:stream_lost")
    assert call_store.get_call(workspace.id, call_id).heartbeat_at is not None
