"""Test doubles for the voice gateway: engines of fixed, known latency, an in-memory call store,
a Twilio-side client that speaks the Media Streams protocol over a real websocket, and a
frame-level harness for single processors.

Used by ``tests/gateway`` and by ``benchmarks/gateway_*`` (the benchmarks need the same fakes so
that what they measure is the gateway's own cost).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import threading
import time
from array import array
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, AsyncIterator, Callable, Optional, Sequence, Union

from callingbox.core.call_states import CallStatus, can_transition, is_terminal
from callingbox.core.errors import NotFound
from callingbox.core.media import mulaw
from callingbox.core.media.mulaw import FRAME_BYTES, SILENCE_BYTE
from callingbox.core.media.protocol import TwilioSide
from callingbox.core.settings import Settings
from callingbox.core.stream_tokens import sign_stream_token
from streaming_fargate.engines.llm import Finished, LanguageModel, LlmEvent, Message, TextDelta, ToolCall, ToolSpec
from streaming_fargate.engines.stt import SpeechToText, SttSession, Transcript
from streaming_fargate.engines.tts import TextToSpeech
from streaming_fargate.frames import Frame
from streaming_fargate.pipeline import Direction, Processor
from streaming_fargate.server import Gateway
from streaming_fargate.settings import GatewaySettings, TurnTaking

__all__ = [
    "STREAM_SECRET", "TOOL_SECRET", "gateway_settings", "running_gateway", "place_call", "stream_token",
    "eventually", "memory_call", "media_client", "extraction_jobs", "machine_answered",
    "voiced_ulaw", "SILENCE_FRAME", "FakeStt", "FakeLlm", "FakeTts", "FakeEngines", "LlmRequest",
    "MemoryCallStore", "TwilioClient", "Received", "Collector", "run_frames", "ToolServer", "verify_signature",
]

SILENCE_FRAME = SILENCE_BYTE * FRAME_BYTES
_sids = itertools.count(1)
STREAM_SECRET = b"gateway-test-stream-secret"
TOOL_SECRET = b"gateway-test-tool-secret"


# -- a gateway on loopback ------------------------------------------------------------------------


def gateway_settings(*, core: Optional[Settings] = None, drain_seconds: float = 5.0, heartbeat_seconds: float = 0.5,
                     tool_timeout_seconds: float = 2.0, **turn_taking: Any) -> GatewaySettings:
    """Loopback, any free port, test secrets, short windows (``turn_taking`` overrides :class:`TurnTaking`)."""
    windows = {"endpoint_silence_ms": 200, "reprompt_after_s": 30.0, **turn_taking}
    return GatewaySettings(core=core or Settings.from_env(), host="127.0.0.1", port=0, drain_seconds=drain_seconds,
                           stream_token_secret=STREAM_SECRET, tool_signing_secret=TOOL_SECRET,
                           tool_timeout_seconds=tool_timeout_seconds, heartbeat_seconds=heartbeat_seconds,
                           turn_taking=TurnTaking(**windows))


@asynccontextmanager
async def running_gateway(engines: Any, *, settings: Optional[GatewaySettings] = None, store: Any = None,
                          **overrides: Any) -> AsyncIterator[Gateway]:
    """A started :class:`Gateway` whose every call runs on ``engines``; drained on exit."""
    gateway = Gateway(settings or gateway_settings(**overrides), engines=lambda snapshot: engines, store=store)
    await gateway.start()
    gateway.url = f"ws://127.0.0.1:{gateway.port}/media"  # type: ignore[attr-defined]
    try:
        yield gateway
    finally:
        await gateway.drain(timeout=2)


def place_call(api: Any, *, context: Optional[dict[str, Any]] = None, **agent: Any) -> str:
    """Create an outbound agent (``agent`` fields) and dispatch a call with it over the API; its id."""
    body = {"name": "Gateway test", "type": "outbound", "number_ids": ["pn_abc123"], **agent}
    created = api.post("/v1/agents", json=body)
    assert created.is_success, created.text
    call = api.post("/v1/calls", json={"agent_id": created.json()["id"], "to": "+14155550199",
                                       **({"context": context} if context else {})})
    assert call.is_success, call.text
    return str(call.json()["id"])


def stream_token(workspace_id: str, call_id: str, **options: Any) -> str:
    """A stream token signed with the test secret."""
    return sign_stream_token(STREAM_SECRET, workspace_id=workspace_id, call_id=call_id, **options)


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0, *, interval: float = 0.01) -> Any:
    """Poll ``predicate`` until it is truthy or ``timeout`` passes (then ``TimeoutError``)."""
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(interval)
    return value


def media_client(url: str, token: str, **parameters: str) -> Any:
    """A :class:`~callingbox.core.media.client.MediaStreamsClient` (the Twilio side the local carrier
    uses) for one new stream, with the stream ``token`` and other ``<Parameter>`` values."""
    from callingbox.core.media.client import MediaStreamsClient

    number = next(_sids)
    return MediaStreamsClient(url, stream_sid=f"MZ{number:032d}", call_sid=f"CA{number:032d}",
                              account_sid="AC" + "0" * 32, custom_parameters={"token": token, **parameters})


def machine_answered(workspace_id: str, call_id: str) -> None:
    """What the carrier's answering-machine webhook does to a live call: ``answered_by: machine``."""
    from callingbox.core.store import calls

    def flag(doc: dict[str, Any]) -> dict[str, Any]:
        doc["answered_by"] = "machine"
        return doc

    calls.update_call(workspace_id, call_id, flag)


def extraction_jobs(local_stack: Any, call_id: str) -> list[dict[str, Any]]:
    """The jobs for ``call_id`` on the local stack's extraction queue (reads until the queue shows nothing)."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    url = local_stack.environment["CALLINGBOX_EXTRACTION_QUEUE_URL"]
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"):
        found += [body for message in messages if (body := json.loads(message["Body"])).get("call_id") == call_id]
    return found


# -- audio ----------------------------------------------------------------------------------------

_VOICE_CACHE: dict[tuple[float, int], bytes] = {}


def voiced_ulaw(seconds: float, *, level: int = 3000) -> bytes:
    """Speech-like μ-law: a 150 Hz buzz with harmonics at RMS ≈ ``level`` (built once per size)."""
    key = (round(seconds, 3), level)
    if key not in _VOICE_CACHE:
        count = int(seconds * 8000)
        scale = level * math.sqrt(2) / 1.25
        samples = array("h", (int(scale * (math.sin(2 * math.pi * 150 * n / 8000)
                                             + 0.6 * math.sin(2 * math.pi * 450 * n / 8000)
                                             + 0.3 * math.sin(2 * math.pi * 900 * n / 8000)) / 1.2)
                              for n in range(count)))
        _VOICE_CACHE[key] = mulaw.pcm16_to_ulaw(samples.tobytes())
    return _VOICE_CACHE[key]


# -- engines --------------------------------------------------------------------------------------


class FakeStt(SpeechToText):
    """Recognizes energy, not words: each stretch of voiced audio is the next text of ``script``.

    While the caller speaks it sends unstable partials (one more word every ``partial_every_ms`` of
    speech); ``stable_after_ms`` after the last voiced frame *arrived* it sends the whole text as a
    stable partial, and ``final_after_ms`` after it the final (each optional). Times are wall
    clock, like a real recogniser's latency.
    """

    def __init__(self, script: Union[Sequence[str], Callable[[int], str]] = ("hello",), *, speech_rms: int = 400,
                 partial_every_ms: int = 200, stable_after_ms: Optional[int] = 150,
                 final_after_ms: Optional[int] = 150) -> None:
        self.script = script
        self.speech_rms = speech_rms
        self.partial_every_ms = partial_every_ms
        self.stable_after_ms = stable_after_ms
        self.final_after_ms = final_after_ms
        self.sessions: list[FakeSttSession] = []
        self.utterances = 0

    def text(self, index: int) -> str:
        if callable(self.script):
            return self.script(index)
        return self.script[index % len(self.script)] if self.script else ""

    async def open(self, *, language: str, hints: tuple[str, ...] = ()) -> SttSession:
        session = FakeSttSession(self)
        self.sessions.append(session)
        return session


class FakeSttSession(SttSession):
    def __init__(self, engine: FakeStt) -> None:
        self.engine = engine
        self.queue: asyncio.Queue[Optional[Transcript]] = asyncio.Queue()
        self.offset_ms = 0
        self.words: list[str] = []
        self.start_ms = 0
        self.last_voice_ms = 0
        self.voiced_ms = 0
        self.sent_words = 0
        self.in_utterance = False
        self.timers: list[asyncio.TimerHandle] = []
        self.closed = False

    async def send_audio(self, pcm16: bytes) -> None:
        ms = len(pcm16) // 16
        if mulaw.rms(pcm16) >= self.engine.speech_rms:
            if not self.in_utterance:
                self.in_utterance = True
                self.words = self.engine.text(self.engine.utterances).split()
                self.engine.utterances += 1
                self.start_ms, self.voiced_ms, self.sent_words = self.offset_ms, 0, 0
            self.voiced_ms += ms
            self.last_voice_ms = self.offset_ms + ms
            count = min(len(self.words), 1 + self.voiced_ms // self.engine.partial_every_ms)
            if count > self.sent_words:
                self.sent_words = count
                self.queue.put_nowait(Transcript(" ".join(self.words[:count]), False, False, self.start_ms,
                                                 self.last_voice_ms))
            self._reschedule()
        self.offset_ms += ms

    def _reschedule(self) -> None:
        for timer in self.timers:
            timer.cancel()
        loop = asyncio.get_running_loop()
        text, start, end = " ".join(self.words), self.start_ms, self.last_voice_ms
        self.timers = []
        if self.engine.stable_after_ms is not None:
            self.timers.append(loop.call_later(self.engine.stable_after_ms / 1000, self.queue.put_nowait,
                                               Transcript(text, False, True, start, end)))
        if self.engine.final_after_ms is not None:
            self.timers.append(loop.call_later(self.engine.final_after_ms / 1000, self._final,
                                               Transcript(text, True, True, start, end)))
        else:
            self.timers.append(loop.call_later(0.5, self._end_utterance))

    def _final(self, transcript: Transcript) -> None:
        self.queue.put_nowait(transcript)
        self._end_utterance()

    def _end_utterance(self) -> None:
        self.in_utterance = False

    async def results(self) -> AsyncIterator[Transcript]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.closed = True
        self.queue.put_nowait(None)


@dataclass
class LlmRequest:
    """One request the fake model received, and how it ended."""

    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    outcome: str = "running"  # running | completed | cancelled

    @property
    def last_user(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")


Reply = Union[str, list[LlmEvent]]


class FakeLlm(LanguageModel):
    """Answers after ``first_token_s``, then streams the reply word by word at ``words_per_s``.

    ``reply`` is the text (or a list of events: text deltas are streamed word by word, tool calls
    sent as they come), or a function of the request's messages returning one.
    """

    def __init__(self, reply: Union[Reply, Callable[[list[Message]], Reply]] = "Okay.", *,
                 first_token_s: float = 0.05, words_per_s: float = 50.0, keep_requests: bool = True) -> None:
        self.reply = reply
        self.first_token_s = first_token_s
        self.words_per_s = words_per_s
        self.keep_requests = keep_requests
        self.requests: list[LlmRequest] = []

    async def stream(self, *, system: str, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[LlmEvent]:
        request = LlmRequest(system, list(messages), list(tools))
        if self.keep_requests:
            self.requests.append(request)
        try:
            await asyncio.sleep(self.first_token_s)
            reply = self.reply(messages) if callable(self.reply) else self.reply
            events: list[LlmEvent] = [TextDelta(reply)] if isinstance(reply, str) else list(reply)
            first = True
            for event in events:
                if isinstance(event, TextDelta):
                    for index, word in enumerate(event.text.split()):
                        if not first:
                            await asyncio.sleep(1 / self.words_per_s)
                        first = False
                        yield TextDelta(word if index == 0 and not event.text.startswith(" ") else f" {word}")
                else:
                    yield event
            request.outcome = "completed"
            yield Finished("tool_use" if any(isinstance(e, ToolCall) for e in events) else "end_turn")
        except (asyncio.CancelledError, GeneratorExit):
            request.outcome = "cancelled"
            raise
        finally:
            if request.outcome == "running":
                request.outcome = "cancelled"


_TONE = mulaw.pcm16_to_ulaw(array("h", (int(6000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(160))).tobytes())


class FakeTts(TextToSpeech):
    """First audio ``first_byte_s`` after the request, ``ms_per_char`` of audio per character, sent in
    pieces of ``piece_ms`` (``pace`` slows delivery to that fraction of real time; 0 = all at once)."""

    def __init__(self, *, first_byte_s: float = 0.02, ms_per_char: float = 30.0, piece_ms: int = 200,
                 pace: float = 0.0) -> None:
        self.first_byte_s = first_byte_s
        self.ms_per_char = ms_per_char
        self.piece_ms = piece_ms
        self.pace = pace
        self.requests: list[str] = []

    def duration_s(self, text: str) -> float:
        """How long ``text`` plays."""
        return len(text) * self.ms_per_char / 1000

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        self.requests.append(text)
        await asyncio.sleep(self.first_byte_s)
        total = int(len(text) * self.ms_per_char * 8)
        piece = self.piece_ms * 8
        audio = (_TONE * (total // len(_TONE) + 1))[:total]
        for start in range(0, total, piece):
            yield audio[start:start + piece]
            await asyncio.sleep(self.pace * self.piece_ms / 1000)


@dataclass
class FakeEngines:
    """What the gateway's engine factory returns: one STT, one model, one TTS."""

    stt: FakeStt = field(default_factory=FakeStt)
    llm: FakeLlm = field(default_factory=FakeLlm)
    tts: FakeTts = field(default_factory=FakeTts)


# -- store ----------------------------------------------------------------------------------------


class MemoryCallStore:
    """The gateway's ``CallStore`` in memory (benchmarks and frame tests; the state rules are real)."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], dict[str, Any]] = {}
        self.segments: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self.heartbeats: list[tuple[str, float]] = []
        self.extraction: list[dict[str, str]] = []
        self.recordings: dict[tuple[str, str], tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()

    def add(self, workspace_id: str, doc: dict[str, Any]) -> None:
        with self._lock:
            self.calls[(workspace_id, doc["id"])] = dict(doc, latency=list(doc.get("latency") or []))

    def get_call(self, workspace_id: str, call_id: str) -> dict[str, Any]:
        with self._lock:
            try:
                return dict(self.calls[(workspace_id, call_id)])
            except KeyError:
                raise NotFound(f"no call {call_id!r}") from None

    def transition(self, workspace_id: str, call_id: str, target: CallStatus, **fields: Any) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            doc = self.calls[(workspace_id, call_id)]
            wanted = CallStatus(target).value
            if doc["status"] == wanted or not can_transition(doc["status"], wanted):
                return False, dict(doc)
            doc.update(fields, status=wanted)
            return True, dict(doc)

    def append_latency(self, workspace_id: str, call_id: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self.calls[(workspace_id, call_id)]["latency"].append(entry)

    def heartbeat(self, workspace_id: str, call_id: str, now: float) -> bool:
        with self._lock:
            self.heartbeats.append((call_id, now))
            return self.calls[(workspace_id, call_id)]["status"] in ("ringing", "in_progress")

    def append_segment(self, workspace_id: str, call_id: str, seq: int, party: str, text: str, start_ms: int,
                       end_ms: int, interrupted: bool) -> bool:
        with self._lock:
            stored = self.segments.setdefault((workspace_id, call_id), {})
            if seq in stored:
                return False
            stored[seq] = {"party": party, "text": text, "start_ms": start_ms, "end_ms": end_ms,
                           "interrupted": interrupted}
            return True

    def transcript_tail(self, workspace_id: str, call_id: str) -> tuple[int, int]:
        with self._lock:
            stored = self.segments.get((workspace_id, call_id), {})
            return len(stored), max((segment["end_ms"] for segment in stored.values()), default=0)

    def update_segment(self, workspace_id: str, call_id: str, seq: int, *, text: Optional[str],
                       end_ms: Optional[int], interrupted: Optional[bool]) -> None:
        with self._lock:
            segment = self.segments[(workspace_id, call_id)][seq]
            for key, value in (("text", text), ("end_ms", end_ms), ("interrupted", interrupted)):
                if value is not None:
                    segment[key] = value

    def enqueue_extraction(self, workspace_id: str, call_id: str) -> None:
        with self._lock:
            self.extraction.append({"workspace_id": workspace_id, "call_id": call_id})

    def save_recording(self, workspace_id: str, call_id: str, caller_ulaw: bytes, agent_ulaw: bytes) -> None:
        with self._lock:
            self.recordings[(workspace_id, call_id)] = (caller_ulaw, agent_ulaw)

    def record_transfer(self, workspace_id: str, call_id: str, transfer: dict[str, Any]) -> bool:
        with self._lock:
            doc = self.calls[(workspace_id, call_id)]
            if is_terminal(doc["status"]):
                return False
            doc["transfer"] = dict(transfer)
            return True

    def record_voicemail(self, workspace_id: str, call_id: str, voicemail: dict[str, Any]) -> None:
        with self._lock:
            self.calls[(workspace_id, call_id)]["voicemail"] = dict(voicemail)

    def note_ending(self, workspace_id: str, call_id: str, reason: str) -> bool:
        with self._lock:
            doc = self.calls[(workspace_id, call_id)]
            if is_terminal(doc["status"]):
                return False
            doc["ending_reason"] = reason
            return True

    def transcript(self, workspace_id: str, call_id: str) -> list[dict[str, Any]]:
        with self._lock:
            stored = self.segments.get((workspace_id, call_id), {})
            return [dict(stored[seq]) for seq in sorted(stored)]


def memory_call(store: MemoryCallStore, workspace_id: str = "ws_bench", **snapshot: Any) -> str:
    """Add a ringing outbound call whose agent snapshot holds ``snapshot``; returns its id."""
    call_id = f"call_{next(_sids):06d}"
    agent = {"id": "agent_fake", "persona": "You are a test agent.", "language": "en-US", "tools": [],
             "interruption_threshold": 0.5, "context_window": 10, "max_duration_seconds": 600, **snapshot}
    store.add(workspace_id, {"id": call_id, "status": "ringing", "agent_snapshot": agent, "context": {},
                             "answered_at": None, "started_at": None, "latency": []})
    return call_id


# -- the Twilio side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """A message from the gateway: arrival time, event, audio bytes, mark name."""

    at: float
    event: str
    audio: bytes = b""
    name: str = ""
    raw: str = ""


class TwilioClient:
    """One Media Stream as Twilio plays it: 20 ms frames on a monotonic schedule (speech or
    silence), the gateway's audio played out in real time, marks echoed when their audio has
    played, ``clear`` honoured (marks still pending are echoed at once, as Twilio does).
    """

    def __init__(self, url: str, *, token: Optional[str], echo_marks: bool = True,
                 extra_parameters: Optional[dict[str, str]] = None) -> None:
        number = next(_sids)
        params = {} if token is None else {"token": token}
        params.update(extra_parameters or {})
        self.side = TwilioSide(f"MZ{number:032d}", f"CA{number:032d}", "AC" + "0" * 32, params)
        self.url = url
        self.echo_marks = echo_marks
        self.received: list[Received] = []
        self.echoed: list[tuple[float, str]] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._speech: list[bytes] = []
        self._speech_done: list[tuple[int, asyncio.Future[float]]] = []
        self._sent_speech = 0
        self._play_end = 0.0
        self._pending_marks: dict[str, asyncio.TimerHandle] = {}
        self._ws: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.close_code: Optional[int] = None

    async def __aenter__(self) -> "TwilioClient":
        from websockets.asyncio.client import connect

        self._ws = await connect(self.url, compression=None, open_timeout=10, close_timeout=2, proxy=None)
        await self._ws.send(self.side.connected())
        await self._ws.send(self.side.start())
        self.started_at = time.monotonic()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reader()), loop.create_task(self._mic())]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.hangup()

    # caller actions

    async def say(self, ulaw: bytes) -> float:
        """Queue caller speech; returns the monotonic time its last frame was sent."""
        frames = [ulaw[i:i + FRAME_BYTES].ljust(FRAME_BYTES, SILENCE_BYTE) for i in range(0, len(ulaw), FRAME_BYTES)]
        self._speech.extend(frames)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._speech_done.append((self._sent_speech + len(self._speech), done))
        return await done

    async def send_raw(self, text: str) -> None:
        await self._ws.send(text)

    async def dtmf(self, digit: str) -> None:
        await self._ws.send(self.side.dtmf(digit))

    async def hangup(self) -> None:
        """Send ``stop`` and close (no-op once closed)."""
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            return
        if not self.closed.is_set():
            self._stop_mic()
            try:
                await self._ws.send(self.side.stop())
            except ConnectionClosed:
                pass
            await self._ws.close()
        await self.wait_closed(5)

    async def drop(self) -> None:
        """Vanish without a closing handshake (a network failure)."""
        self._stop_mic()
        self._ws.transport.abort()
        await self.wait_closed(5)

    def _stop_mic(self) -> None:
        for task in self._tasks[1:]:
            task.cancel()

    # observing

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Wait until ``predicate()`` is truthy (checked after every message); returns its value."""
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if value:
                    return value
                if self.closed.is_set():
                    raise ConnectionError("the stream closed first")
                self._changed.clear()
                await self._changed.wait()

    async def wait_closed(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self.closed.wait()

    def events(self, event: str, *, after: float = 0.0) -> list[Received]:
        return [r for r in self.received if r.event == event and r.at > after]

    def first(self, event: str, *, after: float = 0.0) -> Optional[Received]:
        return next((r for r in self.received if r.event == event and r.at > after), None)

    # tasks

    async def _mic(self) -> None:
        origin = time.monotonic()
        for slot in itertools.count():
            await asyncio.sleep(max(0.0, origin + slot * 0.02 - time.monotonic()))
            speech = bool(self._speech)
            frame = self._speech.pop(0) if speech else SILENCE_FRAME
            await self._ws.send(self.side.media(frame, slot * 20))
            if speech:
                self._sent_speech += 1
                now = time.monotonic()
                while self._speech_done and self._speech_done[0][0] <= self._sent_speech:
                    _, done = self._speech_done.pop(0)
                    if not done.done():
                        done.set_result(now)

    async def _reader(self) -> None:
        import json

        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self._ws:
                now = time.monotonic()
                message = json.loads(raw)
                event = message.get("event", "")
                if event == "media":
                    import base64

                    audio = base64.b64decode(message["media"]["payload"])
                    self.received.append(Received(now, event, audio, raw=raw))
                    self._play_end = max(self._play_end, now) + len(audio) / 8000
                elif event == "mark":
                    name = message["mark"]["name"]
                    self.received.append(Received(now, event, name=name, raw=raw))
                    if self.echo_marks:
                        delay = max(0.0, self._play_end - now)
                        self._pending_marks[name] = asyncio.get_running_loop().call_later(
                            delay, lambda n=name: asyncio.ensure_future(self._echo(n)))
                elif event == "clear":
                    self.received.append(Received(now, event, raw=raw))
                    self._play_end = now
                    for name, timer in list(self._pending_marks.items()):
                        timer.cancel()
                        await self._echo(name)
                else:
                    self.received.append(Received(now, event, raw=raw))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            for timer in self._pending_marks.values():
                timer.cancel()
            self._stop_mic()
            for _, done in self._speech_done:
                if not done.done():
                    done.set_exception(ConnectionError("the stream closed"))
            self.closed.set()
            self._changed.set()

    async def _echo(self, name: str) -> None:
        from websockets.exceptions import ConnectionClosed

        self._pending_marks.pop(name, None)
        try:
            await self._ws.send(self.side.mark(name))
        except ConnectionClosed:
            return
        self.echoed.append((time.monotonic(), name))
        self._changed.set()

    async def quiet(self, timeout: float = 10.0) -> None:
        """Wait until the gateway's audio has all played and its last message was a mark.

        The gateway sends audio ahead of playback (up to its lead), so while it still has something
        to say, more arrives before what was sent has played: "everything received has played"
        therefore means the agent has finished.
        """

        def done() -> bool:
            marks = {item.name for item in self.received if item.event == "mark"}
            return (bool(self.received) and self.received[-1].event == "mark"
                    and marks <= {name for _, name in self.echoed} and self._play_end <= time.monotonic() + 0.005)

        await self.wait_for(done, timeout)

    async def played_out(self, timeout: float = 5.0) -> float:
        """Wait until every mark received so far was echoed (its audio played); returns the last echo time."""
        def done() -> bool:
            return {item.name for item in self.received if item.event == "mark"} <= {name for _, name in self.echoed}

        await self.wait_for(done, timeout)
        return max((at for at, _ in self.echoed), default=time.monotonic())

    def audio_seconds(self, *, after: float = 0.0) -> float:
        """Seconds of gateway audio received (since ``after``)."""
        return sum(len(item.audio) for item in self.received if item.event == "media" and item.at > after) / 8000

    def heard_before(self, moment: float) -> float:
        """Seconds of gateway audio that played before ``moment`` (played in real time from arrival)."""
        clock, heard = 0.0, 0.0
        for item in self.received:
            if item.event == "clear" and item.at <= moment:
                clock = item.at
            if item.event != "media" or item.at > moment:
                continue
            start = max(clock, item.at)
            length = len(item.audio) / 8000
            heard += max(0.0, min(start + length, moment) - start)
            clock = start + length
        return heard


# -- a tool endpoint -------------------------------------------------------------------------------


def verify_signature(header: str, body: bytes, secret: bytes, *, tolerance_s: int = 300) -> bool:
    """What a receiver does: every v1 value compared in constant time, with a freshness check."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance_s and hmac.compare_digest(expected, parts["v1"])


class ToolServer:
    """A tool endpoint on loopback that records requests and answers with ``respond(body)``."""

    def __init__(self, respond: Callable[[dict[str, Any]], tuple[int, bytes]]) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append((dict(self.headers), body))
                status, reply = respond(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tools"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ToolServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()



# -- frame-level harness --------------------------------------------------------------------------


class Collector(Processor):
    """The end of a test pipeline: keeps every frame that reaches it, with its direction."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[Frame, Direction]] = []
        self._arrived = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        self.frames.append((frame, direction))
        self._arrived.set()

    def of(self, kind: type) -> list[Any]:
        return [frame for frame, _ in self.frames if isinstance(frame, kind)]

    async def wait_for(self, kind: type, count: int = 1, *, timeout: float = 2.0) -> list[Any]:
        """Wait until ``count`` frames of ``kind`` have arrived; returns them."""
        async with asyncio.timeout(timeout):
            while len(self.of(kind)) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.of(kind)


async def run_frames(processor: Processor, frames: Sequence[Frame], *, settle: float = 0.0
                     ) -> tuple[Collector, Collector]:
    """Send ``frames`` down through ``processor``; returns (above, below): what left upstream and downstream."""
    above, below = Collector(), Collector()
    above.link(processor)
    processor.link(below)
    await processor.start()
    try:
        for frame in frames:
            await processor.queue_frame(frame, Direction.DOWNSTREAM)
        if settle:
            await asyncio.sleep(settle)
    finally:
        await processor.stop()
    return above, below
