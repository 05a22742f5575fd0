"""TranscribeStt against amazon-transcribe's real client, with a loopback service in place of HTTP/2.

How the SDK is driven: the adapter gets a real ``TranscribeStreamingClient`` whose one transport
object, the CRT HTTP/2 session manager (``make_request``), is replaced by :class:`LoopbackTranscribe`.
Everything above it is the SDK's own code: request serialization to the ``x-amzn-transcribe-*``
headers and SigV4 signing; ``AudioStream.send_audio_event`` framing each chunk and wrapping it in a
signed envelope (``:date``, ``:chunk-signature``) into the request body; ``end_stream``; and on the
way back the SDK's response parser, its ``EventStreamBuffer`` (prelude/headers/payload/CRCs) and
``TranscriptResultStream`` turning frames into ``TranscriptEvent``/``Result``/``Item`` objects or
raising the service's exceptions.

The loopback service reads the request body the way the CRT does (``read()`` until it stops
raising ``BlockingIOError``, polled), decodes the client's frames with *botocore's* independent
event-stream decoder (so both CRCs and the envelope are checked by other code than wrote them), and
answers with frames written by amazon-transcribe's ``EventStreamMessageSerializer`` (the SDK's
writer for the same framing; botocore's decoding of the client's frames cross-checks it). Result
payloads are JSON shaped like the service's (``ResultId``, ``IsPartial``, ``Alternatives[].Items[]``
with ``Stable``, ``StartTime``/``EndTime`` in seconds).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable, Optional

import pytest
from amazon_transcribe.auth import StaticCredentialResolver
from amazon_transcribe.client import TranscribeStreamingClient
from amazon_transcribe.eventstream import EventStreamMessageSerializer
from amazon_transcribe.exceptions import BadRequestException
from amazon_transcribe.response import Response
from botocore.eventstream import EventStreamBuffer

from streaming_fargate.engines import transcribe
from streaming_fargate.engines.stt import Transcript
from streaming_fargate.engines.transcribe import (
    MAX_AUDIO_EVENT_BYTES,
    TranscribeSession,
    TranscribeStt,
    transcribe_language,
)

DEADLINE_S = 5.0
# How often the loopback "transport" polls the request body, as the CRT does (it has no wakeup).
BODY_POLL_S = 0.001
FRAME = bytes(range(256)) + bytes(64)  # 20 ms of 16-bit PCM at 8 kHz: 320 bytes


# --- the loopback service ---------------------------------------------------------------------


class _StreamingResponse:
    """What the CRT session manager returns: status and headers, then body chunks as they come."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self._status, self._headers = status, headers
        self._chunks: asyncio.Queue[Optional[bytes]] = asyncio.Queue()

    def push(self, data: Optional[bytes]) -> None:
        self._chunks.put_nowait(data)

    async def resolve_response(self) -> Response:
        return Response(status_code=self._status, headers=self._headers)

    async def chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def consume_body(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


class LoopbackTranscribe:
    """Plays Amazon Transcribe Streaming for one client: records the request and the audio events,
    and answers with transcript events (or errors) when told to."""

    def __init__(self) -> None:
        self.request: dict[str, Any] = {}
        self.audio: list[bytes] = []
        self.envelopes: list[dict[str, Any]] = []
        self.ended = False
        self.finals_on_end: list[dict[str, Any]] = []
        self.reject: Optional[tuple[str, str]] = None
        self.hang_on_end = False
        self._response: Optional[_StreamingResponse] = None
        self._changed = asyncio.Event()
        self._reader: Optional[asyncio.Task[None]] = None
        self._writer = EventStreamMessageSerializer()

    def client_factory(self) -> TranscribeStreamingClient:
        client = TranscribeStreamingClient(region="us-east-1", credential_resolver=StaticCredentialResolver("AKIDEXAMPLE", "secret"))
        client._session_manager = self  # the one seam: the CRT HTTP/2 transport
        return client

    # the transport interface the SDK calls
    async def make_request(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> _StreamingResponse:
        self.request = {"url": url, "method": method, "headers": dict(headers or [])}
        if self.reject is not None:
            error_type, message = self.reject
            response = _StreamingResponse(400, {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/", "content-type": "application/json"})
            response.push(json.dumps({"Message": message}).encode())
            response.push(None)
            return response
        sent = self.request["headers"]
        echoed = {k: v for k, v in sent.items() if k.startswith("x-amzn-transcribe-")}
        self._response = _StreamingResponse(
            200,
            {
                **echoed,
                "x-amzn-request-id": "4c7c2a3e-0000-4000-8000-000000000001",
                "x-amzn-transcribe-session-id": "5d1e0f5a-0000-4000-8000-000000000002",
                "content-type": "application/vnd.amazon.eventstream",
            },
        )
        self._reader = asyncio.get_running_loop().create_task(self._read_body(body))
        return self._response

    # what the test scripts
    def send_results(self, *results: dict[str, Any]) -> None:
        """One TranscriptEvent carrying ``results``."""
        payload = json.dumps({"Transcript": {"Results": list(results)}}).encode()
        headers = {":event-type": "TranscriptEvent", ":content-type": "application/json", ":message-type": "event"}
        self._send_frame(headers, payload)

    def send_exception(self, exception_type: str, message: str) -> None:
        headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
        self._send_frame(headers, json.dumps({"Message": message}).encode())

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (the caller bounds it) until what the service has seen satisfies ``predicate``."""
        while not predicate():
            self._changed.clear()
            await self._changed.wait()

    def _send_frame(self, headers: dict[str, Any], payload: bytes) -> None:
        assert self._response is not None
        frame = self._writer.serialize(headers, payload)
        mid = len(frame) // 2  # frames straddle HTTP/2 DATA chunks
        self._response.push(frame[:mid])
        self._response.push(frame[mid:])

    async def _read_body(self, body: Any) -> None:
        envelopes = EventStreamBuffer()
        while True:
            try:
                data = body.read()
            except BlockingIOError:
                await asyncio.sleep(BODY_POLL_S)
                continue
            if not data:
                return
            envelopes.add_data(data)
            for envelope in envelopes:
                self._on_envelope(envelope)
            self._changed.set()

    def _on_envelope(self, envelope: Any) -> None:
        assert set(envelope.headers) == {":date", ":chunk-signature"}
        assert len(envelope.headers[":chunk-signature"]) == 32  # HMAC-SHA256, chained from the request
        self.envelopes.append(envelope.headers)
        if not envelope.payload:  # the signed empty frame: end of audio
            self.ended = True
            for result in self.finals_on_end:
                self.send_results(result)
            assert self._response is not None
            if not self.hang_on_end:
                self._response.push(None)
            return
        inner = EventStreamBuffer()
        inner.add_data(envelope.payload)
        (message,) = list(inner)
        assert message.headers == {":message-type": "event", ":event-type": "AudioEvent", ":content-type": "application/octet-stream"}
        self.audio.append(message.payload)


def result(text: str, *, partial: bool, stable: Optional[list[bool]] = None, start: float = 0.12, end: float = 1.4, result_id: str = "r-1") -> dict[str, Any]:
    """A Transcribe ``Result`` as the service sends it: one alternative, one item per word."""
    words = text.rstrip(".?").split()
    span = (end - start) / max(len(words), 1)
    items = []
    for i, word in enumerate(words):
        item: dict[str, Any] = {
            "Content": word,
            "StartTime": round(start + i * span, 3),
            "EndTime": round(start + (i + 1) * span, 3),
            "Type": "pronunciation",
            "VocabularyFilterMatch": False,
        }
        if stable is not None:
            item["Stable"] = stable[i]
        if not partial:
            item["Confidence"] = 0.98
        items.append(item)
    return {
        "Alternatives": [{"Items": items, "Transcript": text}],
        "EndTime": end,
        "IsPartial": partial,
        "ResultId": result_id,
        "StartTime": start,
    }


@pytest.fixture
def service() -> LoopbackTranscribe:
    return LoopbackTranscribe()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, DEADLINE_S))


async def open_session(service: LoopbackTranscribe, **options: Any) -> TranscribeSession:
    stt = TranscribeStt(client_factory=service.client_factory, **options)
    return await stt.open(language="en")


# --- tests --------------------------------------------------------------------------------------


def test_open_starts_a_signed_pcm_8k_stream_with_high_stability(service: LoopbackTranscribe) -> None:
    async def scenario() -> TranscribeSession:
        session = await open_session(service)
        await session.close()
        return session

    session = run(scenario())

    headers = service.request["headers"]
    assert service.request["url"] == "https://transcribestreaming.us-east-1.amazonaws.com/stream-transcription"
    assert service.request["method"] == "POST"
    assert headers["x-amzn-transcribe-language-code"] == "en-US"
    assert headers["x-amzn-transcribe-sample-rate"] == "8000"
    assert headers["x-amzn-transcribe-media-encoding"] == "pcm"
    assert headers["x-amzn-transcribe-enable-partial-results-stabilization"].lower() == "true"  # the SDK writes "True"
    assert headers["x-amzn-transcribe-partial-results-stability"] == "high"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert session.session_id == "5d1e0f5a-0000-4000-8000-000000000002"


def test_audio_reaches_the_service_as_signed_audio_events(service: LoopbackTranscribe) -> None:
    big = bytes(2 * MAX_AUDIO_EVENT_BYTES + 640)

    async def scenario() -> None:
        session = await open_session(service)
        # WHEN three 20 ms frames and one oversized chunk are sent
        for _ in range(3):
            await session.send_audio(FRAME)
        await session.send_audio(big)
        # THEN the service receives them in order, the big one split under the 32 KiB event limit
        await service.until(lambda: sum(map(len, service.audio)) == 3 * len(FRAME) + len(big))
        await session.close()

    run(scenario())
    assert service.audio[:3] == [FRAME] * 3
    assert [len(a) for a in service.audio[3:]] == [MAX_AUDIO_EVENT_BYTES, MAX_AUDIO_EVENT_BYTES, 640]
    assert service.ended
    # every envelope carries its own signature (each chained from the one before)
    signatures = [e[":chunk-signature"] for e in service.envelopes]
    assert len(set(signatures)) == len(signatures)


def test_partial_then_stable_then_final_results_map_to_transcripts(service: LoopbackTranscribe) -> None:
    async def scenario() -> list[Transcript]:
        session = await open_session(service)
        await session.send_audio(FRAME)
        await service.until(lambda: bool(service.audio))
        # GIVEN the service refines one utterance: unstable partial, partly stable, all stable, final
        service.send_results(result("I'd like", partial=True, stable=[True, False], end=0.6))
        service.send_results()  # an event with no results (the service sends these)
        service.send_results(result("I'd like to book", partial=True, stable=[True, True, False, False], end=1.0))
        service.send_results(result("I'd like to book", partial=True, stable=[True, True, True, True], end=1.0))
        service.send_results(result("I'd like to book.", partial=False, end=1.05))
        seen: list[Transcript] = []
        async for transcript in session.results():
            seen.append(transcript)
            if transcript.is_final:
                break
        await session.close()
        return seen

    # THEN stable is set only when every item is, and the final is final and stable
    assert run(scenario()) == [
        Transcript(text="I'd like", is_final=False, stable=False, start_ms=120, end_ms=600),
        Transcript(text="I'd like to book", is_final=False, stable=False, start_ms=120, end_ms=1000),
        Transcript(text="I'd like to book", is_final=False, stable=True, start_ms=120, end_ms=1000),
        Transcript(text="I'd like to book.", is_final=True, stable=True, start_ms=120, end_ms=1050),
    ]


def test_silence_keeps_the_stream_alive_when_audio_pauses(service: LoopbackTranscribe) -> None:
    async def scenario() -> TranscribeSession:
        # GIVEN a short keep-alive interval (the real one is KEEPALIVE_AFTER_S)
        session = await open_session(service, keepalive_after_s=0.02, keepalive_silence_ms=100)
        await session.send_audio(FRAME)
        # WHEN no audio comes for a while, THEN the service keeps receiving 100 ms of silence
        await service.until(lambda: len(service.audio) >= 4)
        await session.send_audio(FRAME)  # and real audio still goes through afterwards
        await service.until(lambda: FRAME in service.audio[1:])
        await session.close()
        return session

    session = run(scenario())
    assert service.audio[0] == FRAME
    silences = [a for a in service.audio[1:] if a != FRAME]
    assert len(silences) >= 3 and session.keepalives_sent >= 3
    assert all(a == bytes(1600) for a in silences)  # 100 ms of 16-bit PCM at 8 kHz


def test_no_keepalive_while_audio_flows(service: LoopbackTranscribe) -> None:
    async def scenario() -> TranscribeSession:
        session = await open_session(service, keepalive_after_s=DEADLINE_S)
        for _ in range(25):
            await session.send_audio(FRAME)
        await service.until(lambda: len(service.audio) == 25)
        await session.close()
        return session

    session = run(scenario())
    assert session.keepalives_sent == 0 and service.audio == [FRAME] * 25


def test_close_ends_the_audio_and_delivers_the_last_final(service: LoopbackTranscribe) -> None:
    # GIVEN the service answers end-of-audio with its last final result
    service.finals_on_end = [result("Thanks, bye.", partial=False, start=2.0, end=2.8, result_id="r-2")]

    async def scenario() -> tuple[list[Transcript], bool]:
        session = await open_session(service)
        collected: list[Transcript] = []

        async def read() -> None:
            async for transcript in session.results():
                collected.append(transcript)

        reader = asyncio.create_task(read())
        await session.send_audio(FRAME)
        # WHEN the session is closed
        await session.close()
        await reader  # THEN results() ends on its own
        await session.send_audio(FRAME)  # and audio after close is dropped
        return collected, service.ended

    collected, ended = run(scenario())
    assert ended
    assert collected == [Transcript(text="Thanks, bye.", is_final=True, stable=True, start_ms=2000, end_ms=2800)]
    assert service.audio == [FRAME]


def test_close_is_bounded_when_the_service_never_finishes(service: LoopbackTranscribe, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a service that never ends its response after end-of-audio (and a short bound)
    monkeypatch.setattr(transcribe, "FINAL_RESULTS_TIMEOUT_S", 0.05)
    service.hang_on_end = True

    async def scenario() -> list[Transcript]:
        session = await open_session(service)
        await session.send_audio(FRAME)
        await session.close()  # WHEN closed, THEN close returns after the bound
        return [t async for t in session.results()]  # and results() has ended

    assert run(scenario()) == []
    assert service.ended


def test_a_service_exception_in_the_stream_is_raised_from_results(service: LoopbackTranscribe) -> None:
    async def scenario() -> None:
        session = await open_session(service)
        await session.send_audio(FRAME)
        await service.until(lambda: bool(service.audio))
        service.send_exception("BadRequestException", "Your request timed out because no new audio was received for 15 seconds.")
        try:
            with pytest.raises(BadRequestException, match="no new audio"):
                async for _ in session.results():
                    pass
        finally:
            await session.close()

    run(scenario())


def test_a_rejected_request_raises_on_open(service: LoopbackTranscribe) -> None:
    service.reject = ("BadRequestException", "1 validation error detected: Value 'xx-XX' at 'languageCode'")
    with pytest.raises(BadRequestException, match="languageCode"):
        run(open_session(service))


@pytest.mark.parametrize(
    ("language", "code"), [("en", "en-US"), ("EN", "en-US"), ("es", "es-US"), ("en-gb", "en-GB"), ("pt-PT", "pt-PT")]
)
def test_agent_language_to_transcribe_locale(language: str, code: str) -> None:
    assert transcribe_language(language) == code


def test_a_language_without_a_default_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="full locale"):
        transcribe_language("tlh")
