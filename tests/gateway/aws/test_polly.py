"""PollyTts against a real boto3 ``polly`` client with botocore's ``Stubber``.

How the SDK is driven: the ``Stubber`` checks each request against the Polly service model and our
expected parameters (``OutputFormat="mulaw"``, ``SampleRate="8000"``, the engine, …) and returns a
response shaped like the service's: ``AudioStream`` is a real botocore ``StreamingBody`` over an
in-memory raw body (urllib3's ``read(amt)``/``close()``), ``ContentType`` is ``audio/mulaw``. The
adapter reads that body exactly as it reads a live one, including botocore's content-length check
at the end. One raw body stalls after its first bytes, to show audio is yielded before the rest
has arrived.
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
import threading
from typing import Any, AsyncIterator, Optional, Union

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from callingbox.core.media.mulaw import pcm16_to_ulaw
from streaming_fargate.engines.polly import CHUNK_BYTES, PollyTts

DEADLINE_S = 5.0
TEXT = "Hi, this is Sam from the clinic."


def mulaw_tone(milliseconds: int) -> bytes:
    """μ-law 8 kHz audio: a 440 Hz tone (what Polly would send is just as opaque to the adapter)."""
    samples = [int(8000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(8 * milliseconds)]
    return pcm16_to_ulaw(struct.pack(f"<{len(samples)}h", *samples))


class StallingRawBody:
    """urllib3's raw body as botocore's ``StreamingBody`` reads it, stalling at each gate.

    ``parts`` are bytes, or a ``threading.Event`` where the network stalls until it is set (or the
    body is closed, which ends it as a closed connection does).
    """

    def __init__(self, parts: list[Union[bytes, threading.Event]]) -> None:
        self._parts = list(parts)
        self.closed = threading.Event()

    def read(self, amt: Optional[int] = None) -> bytes:
        while self._parts and not self.closed.is_set():
            part = self._parts[0]
            if isinstance(part, threading.Event):
                if part.wait(0.01):
                    self._parts.pop(0)
                continue
            size = len(part) if amt is None else amt
            chunk, rest = part[:size], part[size:]
            if rest:
                self._parts[0] = rest
            else:
                self._parts.pop(0)
            return chunk
        return b""

    def close(self) -> None:
        self.closed.set()


class PollyDouble:
    """A real polly client under a Stubber; the factory records which thread built it."""

    def __init__(self) -> None:
        self.client = boto3.session.Session().client(
            "polly", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.stubber = Stubber(self.client)
        self.factory_threads: list[str] = []

    def respond(self, raw: Any, length: int, expected: dict[str, Any]) -> None:
        response = {
            "AudioStream": StreamingBody(raw, length),
            "ContentType": "audio/mulaw",
            "RequestCharacters": len(expected["Text"]),
        }
        self.stubber.add_response("synthesize_speech", response, expected)

    def factory(self) -> Any:
        self.factory_threads.append(threading.current_thread().name)
        return self.client


@pytest.fixture
def polly() -> Any:
    double = PollyDouble()
    with double.stubber:
        yield double
        double.stubber.assert_no_pending_responses()


def expected_params(text: str = TEXT, *, engine: str = "neural", **extra: str) -> dict[str, str]:
    return dict(Text=text, VoiceId="Joanna", OutputFormat="mulaw", SampleRate="8000", Engine=engine, **extra)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, DEADLINE_S))


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


def test_synthesize_asks_for_mulaw_8k_and_passes_the_audio_through(polly: PollyDouble) -> None:
    # GIVEN Polly answers with 0.5 s of μ-law audio
    audio = mulaw_tone(500)
    polly.respond(io.BytesIO(audio), len(audio), expected_params())
    tts = PollyTts(client_factory=polly.factory)

    # WHEN a sentence is synthesized
    chunks = run(collect(tts.synthesize(TEXT, voice="Joanna", language="en")))

    # THEN the bytes are Polly's, untouched, in chunks of at most CHUNK_BYTES
    assert b"".join(chunks) == audio
    assert all(0 < len(chunk) <= CHUNK_BYTES for chunk in chunks)
    assert len(chunks) == math.ceil(len(audio) / CHUNK_BYTES)
    # AND the client was built in the worker thread, off the event loop
    assert polly.factory_threads == ["polly-synthesize"]


def test_first_chunk_is_yielded_before_the_rest_arrives(polly: PollyDouble) -> None:
    # GIVEN Polly sends 100 ms of audio, then the network stalls before the rest
    head, tail = mulaw_tone(100), mulaw_tone(400)
    rest_sent = threading.Event()
    polly.respond(StallingRawBody([head, rest_sent, tail]), len(head) + len(tail), expected_params())
    tts = PollyTts(client_factory=polly.factory)

    async def scenario() -> tuple[bytes, list[bytes]]:
        chunks = tts.synthesize(TEXT, voice="Joanna", language="en")
        # WHEN the first chunk is awaited while the rest is still "on the wire"
        first = await asyncio.wait_for(chunks.__anext__(), DEADLINE_S)
        assert not rest_sent.is_set()
        rest_sent.set()
        return first, await collect(chunks)

    # THEN the first bytes came out first, and the rest followed once sent
    first, rest = run(scenario())
    assert first == head[:CHUNK_BYTES]
    assert first + b"".join(rest) == head + tail


def test_engine_and_full_locale_are_sent(polly: PollyDouble) -> None:
    # GIVEN the generative engine and a full locale (bilingual voices need it)
    audio = mulaw_tone(60)
    polly.respond(io.BytesIO(audio), len(audio), expected_params(engine="generative", LanguageCode="en-IN"))

    # WHEN synthesized, THEN the Stubber saw Engine and LanguageCode
    chunks = run(collect(PollyTts(engine="generative", client_factory=polly.factory).synthesize(TEXT, voice="Joanna", language="en-IN")))
    assert b"".join(chunks) == audio


def test_stopping_early_closes_the_audio_stream(polly: PollyDouble) -> None:
    # GIVEN a stream that stalls after its first chunk
    never = threading.Event()
    raw = StallingRawBody([mulaw_tone(100), never, mulaw_tone(1000)])
    polly.respond(raw, 8 * 1100, expected_params())
    tts = PollyTts(client_factory=polly.factory)

    async def first_then_stop() -> bytes:
        chunks = tts.synthesize(TEXT, voice="Joanna", language="en")
        first = await chunks.__anext__()
        await chunks.aclose()  # WHEN playout is interrupted (barge-in)
        return first

    # THEN the HTTP body is closed at once
    assert len(run(first_then_stop())) == CHUNK_BYTES
    assert raw.closed.wait(DEADLINE_S)


def test_polly_errors_reach_the_caller(polly: PollyDouble) -> None:
    # GIVEN Polly rejects the voice/engine pair
    polly.stubber.add_client_error(
        "synthesize_speech", service_error_code="EngineNotSupportedException", service_message="This voice does not support the selected engine.", http_status_code=400
    )

    # WHEN synthesized, THEN the SDK's ClientError is raised from the iterator
    with pytest.raises(ClientError, match="does not support the selected engine"):
        run(collect(PollyTts(engine="long-form", client_factory=polly.factory).synthesize(TEXT, voice="Joanna", language="en")))


def test_blank_text_makes_no_request(polly: PollyDouble) -> None:
    # WHEN only whitespace is synthesized, THEN nothing is requested (the Stubber would refuse a call)
    assert run(collect(PollyTts(client_factory=polly.factory).synthesize("  ", voice="Joanna", language="en"))) == []
    assert polly.factory_threads == []


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Polly engine"):
        PollyTts(engine="turbo", client_factory=lambda: None)  # type: ignore[arg-type]
