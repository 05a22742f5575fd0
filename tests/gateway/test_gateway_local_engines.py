"""A whole call on the local engines (pocketsphinx, espeak-ng, the builtin dialogue): no fakes, no cloud."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callingbox.core.store.transcripts import list_segments
from streaming_fargate.engines.local_tts import EspeakTts
from streaming_fargate.server import Gateway, default_engine_factory
from tests.gateway.fakes import TwilioClient, eventually, gateway_settings, place_call, stream_token

pytestmark = pytest.mark.integration

MAX_ANSWERS = 5


def test_the_builtin_dialogue_asks_hears_the_answer_and_ends_the_call(api: Any, workspace: Any) -> None:
    call_id = place_call(api, returns={"confirmed": "boolean"}, instructions="Confirm the appointment.",
                         first_message="Hi, this is the clinic.")
    answered: list[str] = []

    async def scenario() -> None:
        settings = gateway_settings()
        gateway = Gateway(settings, engines=default_engine_factory(settings.core))
        await gateway.start()
        caller_voice = EspeakTts()
        yes = b"".join([piece async for piece in caller_voice.synthesize("yes", voice="en-us", language="en-US")])
        try:
            url = f"ws://127.0.0.1:{gateway.port}/media"
            async with TwilioClient(url, token=stream_token(workspace.id, call_id)) as client:
                while not client.closed.is_set() and len(answered) < MAX_ANSWERS:
                    # wait until the agent has said something and it has all played, then answer
                    try:
                        await client.quiet(20)
                        await asyncio.sleep(0.3)
                        if client.closed.is_set():
                            break
                        answered.append("yes")
                        spoke = await client.say(yes)
                        await client.wait_for(lambda spoke=spoke: client.first("media", after=spoke), 20)
                    except ConnectionError:
                        break
                await client.wait_closed(20)  # the agent hangs up
            await eventually(lambda: gateway.open_streams == 0, 20)
        finally:
            await gateway.drain(timeout=2)

    asyncio.run(scenario())
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "agent_hangup")
    transcript = list_segments(workspace.id, call_id)
    parties = [segment["party"] for segment in transcript]
    assert parties[0] == "agent" and "caller" in parties and parties[-1] == "agent"
    assert any(segment["text"].lower() in ("yes", "yeah") for segment in transcript if segment["party"] == "caller")
    assert not any(segment["interrupted"] for segment in transcript)  # each turn waited for the other
    assert call["latency"] and all(turn["first_audio_ms"] is not None for turn in call["latency"])
