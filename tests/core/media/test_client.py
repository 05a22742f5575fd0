"""MediaStreamsClient against a real websockets server on loopback that plays the voice gateway.

Every scenario runs in a fresh event loop with an overall deadline, waits on events (never on
sleeps), and ends by checking that no task is left behind. Timing bounds are generous so that the
tests hold on a loaded two-core machine; the causal lower bounds (a mark cannot come back before its
audio has played) need no slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from callingbox.core.media.client import (
    FRAME_PERIOD_S,
    MediaStreamClosed,
    MediaStreamsClient,
)
from callingbox.core.media.mulaw import FRAME_BYTES, FRAME_MS, SILENCE_BYTE
from callingbox.core.media.protocol import (
    Dtmf,
    Start,
    Stop,
    clear_message,
    mark_message,
    media_message,
    parse,
)

STREAM_SID = "MZ00000000000000000000000000000001"
CALL_SID = "CA00000000000000000000000000000001"
ACCOUNT_SID = "AC00000000000000000000000000000001"
SILENCE = SILENCE_BYTE * FRAME_BYTES

# Whole-scenario budget: the longest scenario plays about a second of audio.
SCENARIO_DEADLINE_S = 15.0
# Budget for any one awaited condition; only reached when something is broken.
WAIT_S = 5.0
# Bounds for "at once" on a loaded machine: far below the audio a clear throws away, far above loopback.
PROMPT_S = 0.5


def caller_audio(size: int) -> bytes:
    """Recognisable caller audio: never the silence byte, so padding and keep-alive stand out."""
    return bytes(i % 0x7F for i in range(size))


def agent_audio(size: int) -> bytes:
    """Recognisable gateway audio, distinct from caller audio and silence."""
    return bytes(0x80 + i % 0x7F for i in range(size))


def _stall_event_loop(seconds: float) -> None:
    """Block the event loop, as a loaded machine does; not a synchronisation sleep."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario`` in a fresh loop under a deadline, then insist that no task outlives it."""

    async def main() -> None:
        async with asyncio.timeout(SCENARIO_DEADLINE_S):
            await scenario()
        leftover = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        assert leftover == [], f"tasks left running: {leftover}"

    asyncio.run(main())


class Gateway:
    """The voice gateway's end of the socket: records what arrives, when, and lets the test reply."""

    def __init__(self, on_message: Callable[[Gateway, dict[str, Any]], Awaitable[None]] | None = None) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.connection: ServerConnection | None = None
        self.ended = asyncio.Event()
        self._on_message = on_message
        self._changed = asyncio.Event()

    async def handle(self, connection: ServerConnection) -> None:
        self.connection = connection
        try:
            async for raw in connection:
                message = json.loads(raw)
                self.received.append((time.monotonic(), message))
                self._wake()
                if self._on_message is not None:
                    await self._on_message(self, message)
        except ConnectionClosed:
            pass
        finally:
            self.ended.set()
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if condition():
                    return
                await changed.wait()

    async def send(self, text: str) -> None:
        assert self.connection is not None
        await self.connection.send(text)

    def media(self) -> list[tuple[float, dict[str, Any]]]:
        return [(at, m) for at, m in self.received if m["event"] == "media"]

    def speech(self) -> list[tuple[float, dict[str, Any]]]:
        return [(at, m) for at, m in self.media() if parse(json.dumps(m)).payload != SILENCE]  # type: ignore[union-attr]

    def marks(self) -> dict[str, float]:
        return {m["mark"]["name"]: at for at, m in self.received if m["event"] == "mark"}


@contextlib.asynccontextmanager
async def call(gateway: Gateway | None = None, **options: Any) -> AsyncIterator[tuple[Gateway, MediaStreamsClient]]:
    """A gateway on a free loopback port and a connected client; hangs up and stops the server on exit."""
    gateway = gateway or Gateway()
    async with serve(gateway.handle, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        client = MediaStreamsClient(f"ws://127.0.0.1:{port}/media", stream_sid=STREAM_SID, call_sid=CALL_SID,
                                    account_sid=ACCOUNT_SID, custom_parameters={"token": "v1.t.s"}, **options)
        async with client:
            await gateway.wait_until(lambda: len(gateway.received) >= 2)  # connected, start
            yield gateway, client


def _assert_consecutive(media: list[dict[str, Any]]) -> None:
    timestamps = [int(m["media"]["timestamp"]) for m in media]
    chunks = [int(m["media"]["chunk"]) for m in media]
    assert [b - a for a, b in itertools.pairwise(timestamps)] == [FRAME_MS] * (len(media) - 1)
    assert [b - a for a, b in itertools.pairwise(chunks)] == [1] * (len(media) - 1)


# Handshake


def test_connect_sends_connected_then_start() -> None:
    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            connected, start = (message for _, message in gateway.received[:2])
            assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
            assert start["sequenceNumber"] == "1" and start["streamSid"] == STREAM_SID
            assert parse(json.dumps(start)) == Start(STREAM_SID, CALL_SID, ACCOUNT_SID, ("inbound",),
                                                     {"token": "v1.t.s"})
            assert client.sent == []

    run(scenario)


# Caller audio


def test_play_paces_frames_in_real_time_and_catches_up_after_a_stall() -> None:
    frames = 50
    audio = caller_audio(frames * FRAME_BYTES - 60)  # the last frame needs padding
    stall_s = 0.2

    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            # GIVEN a second of caller speech
            playing = asyncio.create_task(client.play(audio))
            # WHEN the event loop stalls partway through
            await gateway.wait_until(lambda: len(gateway.media()) >= 10)
            _stall_event_loop(stall_s)
            last_sent = await playing
            await gateway.wait_until(lambda: len(gateway.media()) >= frames)

        media = gateway.media()
        # THEN 50 frames took 49 periods by the gateway's clock: the stall was caught up, not added
        span = media[-1][0] - media[0][0]
        expected = (frames - 1) * FRAME_PERIOD_S
        assert expected - 0.1 <= span <= expected + 0.15, span
        # AND the frames are consecutive, carry the audio padded with silence, and match client.sent
        _assert_consecutive([m for _, m in media])
        assert [m["sequenceNumber"] for _, m in media] == [str(n) for n in range(2, frames + 2)]
        payloads = b"".join(parse(json.dumps(m)).payload for _, m in media)  # type: ignore[union-attr]
        assert payloads == audio + SILENCE_BYTE * 60
        assert [frame.audio for frame in client.sent] == [payloads[i:i + FRAME_BYTES]
                                                          for i in range(0, len(payloads), FRAME_BYTES)]
        assert all(frame.speech for frame in client.sent)
        assert last_sent == client.sent[-1].at

    run(scenario)


def test_silence_keeps_the_line_alive_around_speech() -> None:
    speech = caller_audio(3 * FRAME_BYTES)

    async def scenario() -> None:
        async with call() as (gateway, client):
            # GIVEN an idle caller: the line carries silence
            await gateway.wait_until(lambda: len(gateway.media()) >= 5)
            # WHEN the caller speaks
            await client.play(speech)
            # THEN silence resumes after the speech
            spoken = len(client.sent)
            await gateway.wait_until(lambda: len(gateway.media()) >= spoken + 2)

        media = [m for _, m in gateway.media()]
        payloads = [parse(json.dumps(m)).payload for m in media]  # type: ignore[union-attr]
        first = payloads.index(speech[:FRAME_BYTES])
        assert first >= 5 and all(p == SILENCE for p in payloads[:first])
        assert b"".join(payloads[first:first + 3]) == speech
        assert all(p == SILENCE for p in payloads[first + 3:])
        # AND one clock runs through silence and speech alike
        _assert_consecutive(media)
        assert media[0]["media"]["timestamp"] == "0" and media[0]["media"]["chunk"] == "1"
        assert [frame.speech for frame in client.sent[first:first + 3]] == [True] * 3
        assert not any(frame.speech for frame in client.sent[:first])

    run(scenario)


def test_no_media_while_idle_when_silence_is_off() -> None:
    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            # GIVEN 100 ms of gateway audio and a mark (so we know 100 ms have passed)
            await gateway.send(media_message(STREAM_SID, agent_audio(5 * FRAME_BYTES)))
            await gateway.send(mark_message(STREAM_SID, "played"))
            await gateway.wait_until(lambda: "played" in gateway.marks())
            # THEN the caller sent nothing meanwhile
            assert gateway.media() == [] and client.sent == []
            with pytest.raises(ValueError):
                await client.play(b"")

    run(scenario)


def test_dtmf_message_shape() -> None:
    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            await client.send_dtmf("5")
            await gateway.wait_until(lambda: any(m["event"] == "dtmf" for _, m in gateway.received))
            with pytest.raises(ValueError):
                await client.send_dtmf("55")
            with pytest.raises(ValueError):
                await client.send_dtmf("x")

        dtmf = next(m for _, m in gateway.received if m["event"] == "dtmf")
        assert dtmf == {"event": "dtmf", "sequenceNumber": "2", "streamSid": STREAM_SID,
                        "dtmf": {"track": "inbound_track", "digit": "5"}}
        assert parse(json.dumps(dtmf)) == Dtmf(STREAM_SID, "5")

    run(scenario)


# Gateway audio, marks and clear


def test_mark_is_echoed_only_after_the_audio_before_it_has_played() -> None:
    audio = agent_audio(10 * FRAME_BYTES)
    played_s = 10 * FRAME_PERIOD_S

    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            # GIVEN 200 ms of audio in ten media messages, then a mark
            first_sent = time.monotonic()
            for i in range(0, len(audio), FRAME_BYTES):
                await gateway.send(media_message(STREAM_SID, audio[i:i + FRAME_BYTES]))
            await gateway.send(mark_message(STREAM_SID, "m1"))
            # WHEN the echo arrives
            await gateway.wait_until(lambda: "m1" in gateway.marks())
            # THEN it came no earlier than the audio takes to play, and not much later
            echo_delay = gateway.marks()["m1"] - first_sent
            assert played_s <= echo_delay <= played_s + PROMPT_S, echo_delay
            # AND the caller heard all of it, one frame per 20 ms, before the echo
            assert client.heard_audio == audio
            starts = [frame.at - client.heard[0].at for frame in client.heard]
            assert starts == pytest.approx([i * FRAME_PERIOD_S for i in range(10)], abs=1e-6)
            assert client.marks_echoed[0].at >= client.heard[-1].at + FRAME_PERIOD_S
            assert client.heard[0].at >= client.received_events[0].at

            # GIVEN nothing buffered, WHEN a mark arrives, THEN it comes straight back
            mark_sent = time.monotonic()
            await gateway.send(mark_message(STREAM_SID, "m2"))
            await gateway.wait_until(lambda: "m2" in gateway.marks())
            assert gateway.marks()["m2"] - mark_sent < PROMPT_S
            assert [(e.name, e.cleared) for e in client.marks_echoed] == [("m1", False), ("m2", False)]
            assert [(e.event, e.name) for e in client.received_events][-2:] == [("mark", "m1"), ("mark", "m2")]

    run(scenario)


def test_clear_drops_unplayed_audio_and_echoes_pending_marks_at_once() -> None:
    first = agent_audio(100 * FRAME_BYTES)  # two seconds
    second = agent_audio(3 * FRAME_BYTES)[::-1]

    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            # GIVEN two seconds of audio with a mark after 100 ms and one at the end
            await gateway.send(media_message(STREAM_SID, first[:5 * FRAME_BYTES]))
            await gateway.send(mark_message(STREAM_SID, "five"))
            await gateway.send(media_message(STREAM_SID, first[5 * FRAME_BYTES:]))
            await gateway.send(mark_message(STREAM_SID, "end"))
            await gateway.wait_until(lambda: "five" in gateway.marks())
            # WHEN the gateway clears (barge-in)
            cleared_at = time.monotonic()
            await gateway.send(clear_message(STREAM_SID))
            # THEN the pending mark comes back at once, not after the 1.9 s of audio left
            await gateway.wait_until(lambda: "end" in gateway.marks())
            assert gateway.marks()["end"] - cleared_at < PROMPT_S
            # AND audio sent after the clear plays normally
            await gateway.send(media_message(STREAM_SID, second))
            await gateway.send(mark_message(STREAM_SID, "after"))
            await gateway.wait_until(lambda: "after" in gateway.marks())

        # AND what was heard is what was sent minus what was cleared
        heard = client.heard_audio
        kept = len(heard) - len(second)
        assert heard == first[:kept] + second
        assert 5 * FRAME_BYTES <= kept < len(first) // 2 and kept % FRAME_BYTES == 0
        assert kept + client.dropped_bytes == len(first)
        assert len(client.clear_times) == 1 and client.clear_times[0] >= cleared_at
        assert [(e.name, e.cleared) for e in client.marks_echoed] == [("five", False), ("end", True),
                                                                       ("after", False)]

    run(scenario)


def test_wait_for_audio_returns_the_first_gateway_frame_after_the_caller_spoke() -> None:
    speech = caller_audio(3 * FRAME_BYTES)

    async def answer_after_speech(gateway: Gateway, message: dict[str, Any]) -> None:
        if message["event"] == "media" and len(gateway.speech()) == 3:
            await gateway.send(media_message(STREAM_SID, agent_audio(FRAME_BYTES)))

    async def scenario() -> None:
        async with call(Gateway(answer_after_speech), send_silence=False) as (gateway, client):
            await gateway.send(media_message(STREAM_SID, agent_audio(FRAME_BYTES)))  # a greeting
            greeted = await client.wait_for_audio(WAIT_S, after=0.0)
            # GIVEN the caller speaks; WHEN the gateway answers
            spoke = await client.play(speech)
            answered = await client.wait_for_audio(WAIT_S, after=spoke)
            # THEN the answer, not the greeting, is what comes back, stamped on arrival
            assert greeted < spoke < answered < spoke + PROMPT_S
            assert [e.at for e in client.received_events if e.event == "media"] == [greeted, answered]
            with pytest.raises(TimeoutError):
                await client.wait_for_audio(0.05)  # nothing more is coming

    run(scenario)


def test_unreadable_gateway_messages_are_recorded_and_skipped() -> None:
    async def scenario() -> None:
        async with call(send_silence=False) as (gateway, client):
            for raw in ("not json", '{"event": "media"}', '{"event": "bogus", "streamSid": "MZ"}'):
                await gateway.send(raw)
            await gateway.send(mark_message(STREAM_SID, "still-here"))
            await gateway.wait_until(lambda: "still-here" in gateway.marks())
            assert len(client.protocol_errors) == 3

    run(scenario)


# Ending the stream


def test_hangup_sends_stop_last_and_closes_cleanly() -> None:
    async def scenario() -> None:
        async with call() as (gateway, client):
            await gateway.wait_until(lambda: len(gateway.media()) >= 3)
            await client.send_dtmf("#")
        await gateway.wait_until(gateway.ended.is_set)

        messages = [m for _, m in gateway.received]
        assert messages[-1] == {"event": "stop", "sequenceNumber": messages[-1]["sequenceNumber"],
                                "streamSid": STREAM_SID, "stop": {"accountSid": ACCOUNT_SID, "callSid": CALL_SID}}
        assert parse(json.dumps(messages[-1])) == Stop(STREAM_SID, CALL_SID)
        assert [int(m["sequenceNumber"]) for m in messages[1:]] == list(range(1, len(messages)))
        assert client.closed.is_set() and client.close_code == 1000
        assert gateway.connection is not None and gateway.connection.close_code == 1000
        with pytest.raises(MediaStreamClosed):
            await client.play(caller_audio(FRAME_BYTES))
        with pytest.raises(MediaStreamClosed):
            await client.send_dtmf("1")
        await client.hangup()  # idempotent

    run(scenario)


@pytest.mark.parametrize("how", ["abort", "close"])
def test_gateway_disconnect_ends_the_stream_and_every_client_task(how: str) -> None:
    async def scenario() -> None:
        async with call() as (gateway, client):
            # GIVEN audio playing both ways
            await gateway.send(media_message(STREAM_SID, agent_audio(50 * FRAME_BYTES)))
            playing = asyncio.create_task(client.play(caller_audio(100 * FRAME_BYTES)))
            await gateway.wait_until(lambda: len(gateway.speech()) >= 3 and bool(client.heard))
            # WHEN the gateway drops the TCP connection, or closes the websocket, mid-call
            assert gateway.connection is not None
            if how == "abort":
                gateway.connection.transport.abort()
            else:
                await gateway.connection.close()
            # THEN the client notices, fails the pending play, and stops every task
            await asyncio.wait_for(client.closed.wait(), WAIT_S)
            with pytest.raises(MediaStreamClosed):
                await playing
            await asyncio.wait_for(client.wait_closed(), WAIT_S)
            assert [t for t in asyncio.all_tasks() if t.get_name().startswith("media-streams")] == []
            assert client.close_code == (1006 if how == "abort" else 1000)
            with pytest.raises(MediaStreamClosed):
                await client.wait_for_audio(WAIT_S)
            with pytest.raises(MediaStreamClosed):
                await client.play(caller_audio(FRAME_BYTES))
        # AND leaving the block (a hangup) is a no-op; run() checks that no task is left at all

    run(scenario)
