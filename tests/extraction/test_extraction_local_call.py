"""A whole call on the local engines (espeak-ng caller, pocketsphinx, the builtin dialogue, the real
gateway), then the extraction worker on the transcript it left: a typed result with no cloud."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from callingbox.core.settings import Settings
from callingbox.core.store.transcripts import list_segments
from tests.extraction.helpers import Emitted, lambda_context, sqs_event, sqs_record
from tests.gateway.fakes import TwilioClient, eventually, gateway_settings, place_call, stream_token

pytestmark = pytest.mark.integration

MAX_TURNS = 6


def test_a_local_call_ends_with_a_typed_result_and_quotes_from_its_transcript(
        api: Any, workspace: Any, local_stack: Any) -> None:
    from streaming_fargate.engines.local_tts import EspeakTts
    from streaming_fargate.server import Gateway, default_engine_factory

    returns = {"confirmed": "boolean", "outcome": ["booked", "declined"]}
    call_id = place_call(api, returns=returns, instructions="Confirm the booking.",
                         first_message="Hi, this is the clinic.")

    def reply_to(agent_said: str) -> str:
        """The caller answers what the agent just asked (the first message asks nothing): the
        choice on the keypad (key 2 is the second option), the rest by voice."""
        if "describes the outcome" in agent_said:
            return "DTMF:2"
        return "yes" if agent_said.rstrip().endswith("?") else "hello"

    async def last_agent_line() -> str:
        def read() -> list[dict[str, Any]]:
            return list_segments(workspace.id, call_id)

        for _ in range(100):  # the segment is written just after its audio has played
            segments = await asyncio.to_thread(read)
            if segments and segments[-1]["party"] == "agent":
                return str(segments[-1]["text"])
            await asyncio.sleep(0.05)
        return ""

    async def scenario() -> None:
        settings = gateway_settings()
        gateway = Gateway(settings, engines=default_engine_factory(settings.core))
        await gateway.start()
        voice = EspeakTts()
        try:
            async with TwilioClient(f"ws://127.0.0.1:{gateway.port}/media",
                                    token=stream_token(workspace.id, call_id)) as client:
                for _ in range(MAX_TURNS):
                    await client.quiet(20)  # the agent has finished speaking
                    await asyncio.sleep(0.3)
                    if client.closed.is_set():
                        break
                    word = reply_to(await last_agent_line())
                    try:
                        if word.startswith("DTMF:"):
                            spoke = time.monotonic()
                            await client.dtmf(word.removeprefix("DTMF:"))
                        else:
                            audio = b"".join([piece async for piece in
                                              voice.synthesize(word, voice="en-us", language="en-US")])
                            spoke = await client.say(audio)
                        await client.wait_for(lambda spoke=spoke: client.first("media", after=spoke), 20)
                    except ConnectionError:
                        break
                await client.wait_closed(20)
            await eventually(lambda: gateway.open_streams == 0, 20)
        finally:
            await gateway.drain(timeout=2)

    asyncio.run(scenario())
    # The call completed: the gateway queued the post-call job; run the worker Lambda on it.
    import workers.extraction as module

    from callingbox.core.extraction.worker import ExtractionWorker

    settings = Settings.from_env(local_stack.environment)
    emitted = Emitted()
    worker = ExtractionWorker(settings, on_processed=emitted)
    module.install(module.ExtractionRuntime.from_settings(settings, worker=worker))
    try:
        response = module.handler(sqs_event(sqs_record({"workspace_id": workspace.id, "call_id": call_id})),
                                  lambda_context())
    finally:
        module.install(None)
    assert response == {"batchItemFailures": []}
    call = api.get(f"/v1/calls/{call_id}").json()
    transcript = list_segments(workspace.id, call_id)
    assert call["status"] == "completed", transcript
    assert call["result"] == {"confirmed": True, "outcome": "declined"}, transcript
    assert call["result"]["confirmed"] is True
    caller_lines = {segment["text"] for segment in transcript if segment["party"] == "caller"}
    assert set(call["extraction"]["evidence"]) == {"confirmed", "outcome"}
    assert set(call["extraction"]["evidence"].values()) <= caller_lines
    assert emitted.types_for(call_id) == ["call.completed"]
    # and the call is now searchable by what was said
    found = api.get("/v1/transcripts/search", params={"q": "declined"}).json()
    assert [item["call_id"] for item in found["data"]] == [call_id]
