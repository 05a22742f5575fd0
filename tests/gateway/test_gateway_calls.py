"""Whole calls through the gateway: real websocket, the local stack's store and queues, fake engines."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from array import array
from typing import Any, Awaitable, Callable, Iterator

import httpx
import pytest

from callingbox.core.media import mulaw
from callingbox.core.settings import Settings
from callingbox.core.store import calls as call_store
from callingbox.core.store.transcripts import list_segments
from streaming_fargate.engines.llm import Message, TextDelta, ToolCall
from streaming_fargate.processors.silence import reprompt_text, silence_goodbye_text
from streaming_fargate.processors.turns import DEFAULT_GOODBYE
from streaming_fargate.tools import SIGNATURE_HEADER
from tests.gateway.fakes import (
    TOOL_SECRET,
    FakeEngines,
    FakeLlm,
    FakeStt,
    FakeTts,
    ToolServer,
    TwilioClient,
    eventually,
    gateway_settings,
    place_call,
    running_gateway,
    stream_token,
    verify_signature,
    voiced_ulaw,
)

pytestmark = pytest.mark.integration

Body = Callable[[TwilioClient], Awaitable[None]]


def talk(workspace: Any, call_id: str, engines: FakeEngines, body: Body, **gateway: Any) -> TwilioClient:
    """Run one call: gateway up, the Twilio side connected, ``body`` plays the caller, all torn down."""

    async def scenario() -> TwilioClient:
        async with running_gateway(engines, **gateway) as running:
            async with TwilioClient(running.url, token=stream_token(workspace.id, call_id)) as client:
                await body(client)
            await eventually(lambda: running.open_streams == 0, 10)
        return client

    return asyncio.run(scenario())


async def heard_reply(client: TwilioClient, after: float, engines: FakeEngines, text: str, timeout: float = 10.0
                      ) -> float:
    """Wait until the agent's ``text``, sent after ``after``, has arrived and played; returns its first arrival."""
    first = await client.wait_for(lambda: client.first("media", after=after), timeout)
    expected = engines.tts.duration_s(text) - 0.1  # chunks are synthesized apart: a few spaces less
    await client.wait_for(lambda: client.audio_seconds(after=after) >= expected, timeout)
    await client.quiet(timeout)
    return first.at


def segments(workspace: Any, call_id: str) -> list[tuple[str, str, bool]]:
    return [(s["party"], s["text"], s["interrupted"]) for s in list_segments(workspace.id, call_id)]


def recording(api: Any, call_id: str) -> tuple[bytes, bytes]:
    """The call's two-channel WAV (through its presigned ``recording_url``) as (caller, agent) 16-bit PCM."""
    url = api.get(f"/v1/calls/{call_id}").json()["recording_url"]
    assert url, "the call has no recording"
    with wave.open(io.BytesIO(httpx.get(url, trust_env=False).content)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = array("h", wav.readframes(wav.getnframes()))
    return frames[0::2].tobytes(), frames[1::2].tobytes()


def loudness(pcm: bytes, start_s: float, end_s: float) -> int:
    """RMS of 16-bit PCM between two offsets."""
    return mulaw.rms(pcm[int(start_s * 8000) * 2:int(end_s * 8000) * 2])


@pytest.fixture
def extraction_jobs(local_stack: Any) -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    url = local_stack.environment["CALLINGBOX_EXTRACTION_QUEUE_URL"]

    def jobs(call_id: str) -> list[dict[str, Any]]:
        found = []
        for _ in range(5):
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(message["Body"])
                if body.get("call_id") == call_id:
                    found.append(body)
            if found:
                break
        return found

    yield jobs


def test_a_whole_call_writes_its_state_transcript_latency_and_post_call_job(
        api: Any, workspace: Any, extraction_jobs: Any) -> None:
    call_id = place_call(api, first_message="Hi, this is the clinic calling for {{patient}}.",
                         instructions="Confirm the appointment of {{patient}}.", context={"patient": "Ada"})
    engines = FakeEngines(stt=FakeStt(["yes that works"]), llm=FakeLlm("Great, see you on Monday."))

    async def caller(client: TwilioClient) -> None:
        await heard_reply(client, 0.0, engines, "Hi, this is the clinic calling for Ada.")  # in full
        spoke = await client.say(voiced_ulaw(0.6))
        await heard_reply(client, spoke, engines, "Great, see you on Monday.")

    talk(workspace, call_id, engines, caller)

    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "caller_hangup")
    assert call["answered_at"] and call["ended_at"] >= call["answered_at"] and call["billable_seconds"] >= 0
    (turn,) = call["latency"]
    assert set(turn) == {"turn", "at_ms", "end_of_speech_ms", "stt_final_ms", "llm_request_ms", "llm_first_token_ms",
                         "tts_first_byte_ms", "first_audio_ms"}
    assert turn["end_of_speech_ms"] <= turn["llm_first_token_ms"] <= turn["tts_first_byte_ms"] <= turn["first_audio_ms"]
    assert segments(workspace, call_id) == [
        ("agent", "Hi, this is the clinic calling for Ada.", False),
        ("caller", "yes that works", False),
        ("agent", "Great, see you on Monday.", False),
    ]
    assert extraction_jobs(call_id) == [{"workspace_id": workspace.id, "call_id": call_id}]
    assert call_store.get_call(workspace.id, call_id).heartbeat_at is not None
    system = engines.llm.requests[0].system
    assert "Confirm the appointment of Ada." in system and "en-US" in system and "- patient: Ada" in system
    assert [m.role for m in engines.llm.requests[0].messages] == ["assistant", "user"]  # greeting, then the caller


def test_the_turn_ends_on_a_stable_partial_and_silence_without_waiting_for_the_final(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    # the recogniser marks its partial stable 100 ms after the speech, but its final comes only after 2.5 s
    engines = FakeEngines(stt=FakeStt(["book a table for two"], stable_after_ms=100, final_after_ms=2500),
                          llm=FakeLlm("Sure, for what time?"))
    waited: list[float] = []

    async def caller(client: TwilioClient) -> None:
        spoke = await client.say(voiced_ulaw(0.6))
        waited.append(await heard_reply(client, spoke, engines, "Sure, for what time?") - spoke)

    talk(workspace, call_id, engines, caller, endpoint_silence_ms=200)
    assert waited[0] < 1.0  # 200 ms of silence + the fakes' latencies, far from the final's 2.5 s
    (turn,) = api.get(f"/v1/calls/{call_id}").json()["latency"]
    assert turn["stt_final_ms"] is None and 180 <= turn["end_of_speech_ms"] < 600
    assert turn["llm_request_ms"] < turn["end_of_speech_ms"]  # the model started early, on the stable partial


def test_an_early_start_is_cancelled_and_restarted_when_the_caller_keeps_talking(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["I want to", "book a table"], stable_after_ms=100, final_after_ms=100),
                          llm=FakeLlm(lambda messages: f"You said: {messages[-1].content}.", first_token_s=0.2))

    async def caller(client: TwilioClient) -> None:
        await client.say(voiced_ulaw(0.5))
        await eventually(lambda: engines.llm.requests, 3)  # the model started on "I want to"
        spoke = await client.say(voiced_ulaw(0.5))  # ... and the caller goes on
        await heard_reply(client, spoke, engines, "You said: I want to book a table.")

    talk(workspace, call_id, engines, caller, endpoint_silence_ms=500)
    first, second = engines.llm.requests
    assert (first.last_user, first.outcome) == ("I want to", "cancelled")
    assert (second.last_user, second.outcome) == ("I want to book a table", "completed")
    assert " ".join(engines.tts.requests) == "You said: I want to book a table."  # nothing of the first reply
    assert segments(workspace, call_id) == [("caller", "I want to book a table", False),
                                            ("agent", "You said: I want to book a table.", False)]


STORY = ("Once upon a time there was a small clinic by the sea, and every morning the doctor opened the "
         "windows, listened to the waves, and wrote down the names of everyone who came to visit that day.")


def test_barge_in_clears_the_audio_cancels_the_reply_and_truncates_the_agent_segment(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    # the model writes slowly (10 words a second), so it is still writing when the caller barges in
    engines = FakeEngines(stt=FakeStt(["tell me a story", "stop please"]),
                          llm=FakeLlm(lambda m: STORY if len(m) == 1 else "Okay, I will stop.", words_per_s=10))
    seen: dict[str, Any] = {}

    async def caller(client: TwilioClient) -> None:
        spoke = await client.say(voiced_ulaw(0.6))
        started = await client.wait_for(lambda: client.first("media", after=spoke), 5)
        await asyncio.sleep(max(0.0, started.at + 1.0 - time.monotonic()))  # the caller listens for a second
        onset = time.monotonic()
        barge = asyncio.ensure_future(client.say(voiced_ulaw(0.8)))
        clear = await client.wait_for(lambda: client.first("clear"), 5)
        seen.update(onset=onset, clear=clear.at, heard=client.heard_before(clear.at), started=started.at,
                    stream_start=client.started_at)
        spoke_again = await barge
        seen["spoke_again"] = spoke_again
        seen["audio_during_barge_in"] = [m for m in client.events("media", after=clear.at) if m.at <= spoke_again]
        await heard_reply(client, spoke_again, engines, "Okay, I will stop.")

    talk(workspace, call_id, engines, caller)
    assert seen["clear"] - seen["onset"] <= 0.35  # 180 ms of speech to decide (see bargein.py), then at once
    assert seen["audio_during_barge_in"] == []  # nothing of the story after the clear
    story_reply, stop_reply = engines.llm.requests
    assert story_reply.outcome == "cancelled"  # the model was still writing when the caller barged in
    transcript = segments(workspace, call_id)
    assert [(party, interrupted) for party, _, interrupted in transcript] == [
        ("caller", False), ("agent", True), ("caller", False), ("agent", False)]
    heard_text = transcript[1][1]
    assert heard_text and STORY.startswith(heard_text) and len(heard_text) < len(STORY)
    # the words kept match what played before the clear (30 ms per character), to within a few words
    assert abs(len(heard_text) - seen["heard"] * 1000 / 30) < 25
    assert stop_reply.messages[1] == Message("assistant", heard_text)  # the model knows where it was cut
    # the recording keeps the agent as heard: it plays until the clear and is silent afterwards
    caller_pcm, agent_pcm = recording(api, call_id)
    origin = seen["stream_start"]
    playing, cleared = seen["started"] - origin, seen["clear"] - origin
    assert loudness(agent_pcm, playing + 0.1, cleared - 0.1) > 1000
    assert loudness(agent_pcm, cleared + 0.1, seen["spoke_again"] - origin) < 50
    assert loudness(caller_pcm, seen["onset"] - origin + 0.1, seen["spoke_again"] - origin - 0.1) > 1000
    assert loudness(caller_pcm, playing + 0.1, seen["onset"] - origin - 0.1) < 50


def test_backchannels_below_the_threshold_do_not_interrupt(api: Any, workspace: Any) -> None:
    call_id = place_call(api, interruption_threshold=0.5)
    engines = FakeEngines(stt=FakeStt(["tell me a story", "uh-huh", "mm"]), llm=FakeLlm(STORY), tts=FakeTts(ms_per_char=15))

    async def caller(client: TwilioClient) -> None:
        spoke = await client.say(voiced_ulaw(0.6))
        await client.wait_for(lambda: client.first("media", after=spoke), 5)
        await client.say(voiced_ulaw(0.12))  # "uh-huh": short
        await client.say(b"\xff" * 2400)
        await client.say(voiced_ulaw(0.6, level=700))  # "mm": long but soft
        await client.wait_for(lambda: client.audio_seconds() >= engines.tts.duration_s(STORY) - 0.1, 10)
        await client.played_out(10)

    client = talk(workspace, call_id, engines, caller)
    assert client.events("clear") == []
    assert len(engines.llm.requests) == 1
    assert segments(workspace, call_id) == [("caller", "tell me a story", False), ("agent", STORY, False)]


@pytest.mark.parametrize(("events", "goodbye"), [
    ([TextDelta("Thanks for your time, goodbye!"), ToolCall("t1", "end_call", {})], "Thanks for your time, goodbye!"),
    ([ToolCall("t1", "end_call", {"goodbye": "Bye now."})], "Bye now."),
    ([ToolCall("t1", "end_call", {})], DEFAULT_GOODBYE),
])
def test_end_call_says_goodbye_then_hangs_up_once_it_was_heard(api: Any, workspace: Any, events: list,
                                                             goodbye: str) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["that's all, thanks"]), llm=FakeLlm(events))
    seen: dict[str, float] = {}

    async def caller(client: TwilioClient) -> None:
        await client.say(voiced_ulaw(0.5))
        await client.wait_closed(10)  # the gateway hangs up
        audio = client.events("media")
        seen.update(first=audio[0].at, closed=time.monotonic(), played=len(audio) * 0.02)

    client = talk(workspace, call_id, engines, caller)
    assert client.close_code == 1000
    assert seen["closed"] - seen["first"] >= seen["played"] - 0.05  # not before the goodbye had played
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "agent_hangup")
    assert segments(workspace, call_id)[-1] == ("agent", goodbye, False)


def lookup_reply(messages: list[Message]) -> Any:
    if messages[-1].role == "tool":
        return f"The tool said {messages[-1].content}"
    return [TextDelta("Let me check."), ToolCall("t1", "lookup_order", {"order": "42"})]


TOOLS = [{"name": "lookup_order", "description": "Find an order",
          "parameters": {"type": "object", "properties": {"order": {"type": "string"}}}}]


def test_a_tool_call_is_signed_and_its_reply_goes_back_to_the_model(api: Any, workspace: Any) -> None:
    with ToolServer(lambda body: (200, json.dumps({"status": "shipped"}).encode())) as server:
        call_id = place_call(api, tools=TOOLS, tool_url=server.url, context={"customer": "Ada"})
        engines = FakeEngines(stt=FakeStt(["where is my order"]), llm=FakeLlm(lookup_reply))

        async def caller(client: TwilioClient) -> None:
            spoke = await client.say(voiced_ulaw(0.5))
            await heard_reply(client, spoke, engines, 'Let me check. The tool said {"status": "shipped"}')

        talk(workspace, call_id, engines, caller)
        (headers, body), = server.requests
    assert json.loads(body) == {"call_id": call_id, "tool": "lookup_order", "arguments": {"order": "42"},
                                "context": {"customer": "Ada"}}
    assert verify_signature(headers[SIGNATURE_HEADER], body, TOOL_SECRET)
    tool_message = engines.llm.requests[1].messages[-1]
    assert (tool_message.role, tool_message.tool_call_id, json.loads(tool_message.content)) == (
        "tool", "t1", {"status": "shipped"})
    assert engines.tts.requests[0] == "Let me check."
    assert segments(workspace, call_id)[-1][1] == 'Let me check. The tool said {"status": "shipped"}'


def test_a_tool_that_times_out_is_told_to_the_model_and_the_call_goes_on(api: Any, workspace: Any) -> None:
    def slow(body: dict[str, Any]) -> tuple[int, bytes]:
        server.release.wait(5)
        return 200, b"{}"

    with ToolServer(slow) as server:
        call_id = place_call(api, tools=TOOLS, tool_url=server.url)
        engines = FakeEngines(stt=FakeStt(["where is my order"]), llm=FakeLlm(lookup_reply), tts=FakeTts(ms_per_char=10))

        async def caller(client: TwilioClient) -> None:
            spoke = await client.say(voiced_ulaw(0.5))
            await heard_reply(client, spoke, engines,
                              "Let me check. The tool said {\"error\": \"the tool 'lookup_order' did not answer within 0.3 s\"}")

        talk(workspace, call_id, engines, caller, tool_timeout_seconds=0.3)
    assert json.loads(engines.llm.requests[1].messages[-1].content) == {
        "error": "the tool 'lookup_order' did not answer within 0.3 s"}
    assert api.get(f"/v1/calls/{call_id}").json()["status"] == "completed"


def test_a_tool_url_that_resolves_to_loopback_is_refused_in_production(api: Any, workspace: Any) -> None:
    with ToolServer(lambda body: (200, b"{}")) as server:
        port = server.url.split(":")[2].split("/")[0]
        call_id = place_call(api, tools=TOOLS, tool_url=f"https://localhost:{port}/tools")
        engines = FakeEngines(stt=FakeStt(["where is my order"]), llm=FakeLlm(lookup_reply), tts=FakeTts(ms_per_char=10))

        async def caller(client: TwilioClient) -> None:
            spoke = await client.say(voiced_ulaw(0.5))
            await eventually(lambda: len(engines.llm.requests) == 2 and engines.llm.requests[1].outcome != "running")
            await heard_reply(client, spoke, engines, "Let me check. The tool said {}")

        production = gateway_settings(core=Settings(**{**Settings.from_env().__dict__, "allow_insecure_urls": False}))
        talk(workspace, call_id, engines, caller, settings=production)
        assert server.requests == []
    refusal = json.loads(engines.llm.requests[1].messages[-1].content)["error"]
    assert "private, loopback or link-local" in refusal


def test_silence_reprompts_then_says_goodbye_and_hangs_up(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(tts=FakeTts(ms_per_char=10))

    async def caller(client: TwilioClient) -> None:
        await client.wait_closed(10)  # the caller never says a word

    talk(workspace, call_id, engines, caller, reprompt_after_s=0.4, max_reprompts=2)
    english = "en-US"
    assert segments(workspace, call_id) == [("agent", reprompt_text(english), False),
                                            ("agent", reprompt_text(english), False),
                                            ("agent", silence_goodbye_text(english), False)]
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "silence")


def test_max_duration_hangs_up(api: Any, workspace: Any) -> None:
    call_id = place_call(api, first_message="Hello.")

    def one_second(doc: dict[str, Any]) -> dict[str, Any]:
        doc["agent_snapshot"]["max_duration_seconds"] = 1
        return doc

    call_store.update_call(workspace.id, call_id, one_second)
    lasted: list[float] = []

    async def caller(client: TwilioClient) -> None:
        began = time.monotonic()
        await client.wait_closed(10)
        lasted.append(time.monotonic() - began)

    talk(workspace, call_id, FakeEngines(), caller)
    assert 0.9 <= lasted[0] < 3
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "max_duration")


def test_dtmf_digits_reach_the_model_as_text(api: Any, workspace: Any) -> None:
    call_id = place_call(api, record=False)
    engines = FakeEngines(llm=FakeLlm("You pressed five."))

    async def caller(client: TwilioClient) -> None:
        pressed = time.monotonic()
        await client.dtmf("5")
        await heard_reply(client, pressed, engines, "You pressed five.")

    talk(workspace, call_id, engines, caller)
    assert engines.llm.requests[0].messages[-1] == Message("user", "DTMF: 5")
    assert segments(workspace, call_id) == [("caller", "DTMF: 5", False), ("agent", "You pressed five.", False)]
    assert api.get(f"/v1/calls/{call_id}").json()["recording_url"] is None  # record: false keeps no audio


class BrokenLlm(FakeLlm):
    """A model whose every request fails."""

    async def stream(self, *, system: str, messages: list[Message], tools: list[Any]) -> Any:  # type: ignore[override]
        raise RuntimeError("model unavailable")
        yield  # pragma: no cover - makes this an async generator


def test_an_engine_failure_ends_the_call_as_failed_with_its_stage(api: Any, workspace: Any) -> None:
    call_id = place_call(api)

    async def caller(client: TwilioClient) -> None:
        await client.say(voiced_ulaw(0.5))
        await client.wait_closed(10)

    client = talk(workspace, call_id, FakeEngines(stt=FakeStt(["hello"]), llm=BrokenLlm()), caller)
    assert client.close_code == 1011
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("failed", "error:llm_failed")
    assert segments(workspace, call_id) == [("caller", "hello", False)]  # what was said is kept
