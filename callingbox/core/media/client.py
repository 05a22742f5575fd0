"""Twilio's side of one Media Streams call, over a real websocket.

The local carrier, the tests and the latency benchmarks dial the voice gateway with
:class:`MediaStreamsClient` and get what Twilio's bidirectional ``<Connect><Stream>`` gives a real call:

* ``connected`` then ``start`` as soon as the socket opens;
* one 160-byte ``media`` frame every 20 ms on a monotonic schedule: the caller's audio from
  :meth:`MediaStreamsClient.play`, otherwise μ-law silence, as a phone line never goes quiet;
* the gateway's ``media`` goes into a playout buffer that a "speaker" drains in real time, and
  :attr:`MediaStreamsClient.heard` records what actually played and when;
* a ``mark`` is echoed once all audio received before it has played; ``clear`` drops the unplayed
  buffer and echoes pending marks at once;
* ``dtmf`` on :meth:`MediaStreamsClient.send_dtmf`, ``stop`` on :meth:`MediaStreamsClient.hangup`.

Three tasks run per stream: *uplink* (caller audio), *downlink* (gateway messages) and *playout*
(the speaker). The downlink owns shutdown: however the connection ends, it stops the other two, fails
pending :meth:`~MediaStreamsClient.play` calls with :class:`MediaStreamClosed` and sets ``closed``.

``websockets`` is imported when a client connects, so importing ``callingbox.core`` stays light.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from callingbox.core.media.mulaw import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, SILENCE_BYTE
from callingbox.core.media.protocol import TwilioSide, parse_outbound

if TYPE_CHECKING:  # pragma: no cover
    from websockets.asyncio.client import ClientConnection

__all__ = [
    "MediaStreamsClient",
    "MediaStreamClosed",
    "SentFrame",
    "HeardFrame",
    "ReceivedEvent",
    "MarkEcho",
    "FRAME_PERIOD_S",
    "PLAYOUT_TICK_S",
    "DTMF_DIGITS",
]

logger = logging.getLogger(__name__)

# Twilio packetises the line into 160-byte μ-law frames, 20 ms each at 8 kHz, in both directions.
FRAME_PERIOD_S = FRAME_MS / 1000
# The speaker drains the playout buffer at line rate: one μ-law byte per sample, so each 160-byte
# frame occupies one 20 ms tick; a shorter tail plays for its own length.
PLAYOUT_TICK_S = FRAME_PERIOD_S
PLAYOUT_BYTES_PER_S = SAMPLE_RATE
# Opening handshake: loopback answers in milliseconds, a cold gateway task within a few seconds.
CONNECT_TIMEOUT_S = 10.0
# Closing handshake on hangup; past it websockets drops the TCP connection.
CLOSE_TIMEOUT_S = 2.0
# Bounded wait for our own tasks after cancelling them (a library may swallow CancelledError).
TASK_CANCEL_TIMEOUT_S = 2.0
# The keys a phone can send; Twilio reports these digits in ``dtmf`` messages.
DTMF_DIGITS = frozenset("0123456789*#")

_SILENCE_FRAME = SILENCE_BYTE * FRAME_BYTES


class MediaStreamClosed(ConnectionError):
    """The stream has ended (hangup, or the gateway closed the connection): nothing more can be sent."""


class SentFrame(NamedTuple):
    """One ``media`` frame this client sent as the caller."""

    at: float
    """``time.monotonic()`` just after the frame was handed to the socket."""
    timestamp_ms: int
    """The frame's ``media.timestamp``: milliseconds since the stream started, a multiple of 20."""
    chunk: int
    """The frame's ``media.chunk``, counting from 1."""
    audio: bytes
    """The 160 μ-law bytes."""
    speech: bool
    """True for audio from :meth:`MediaStreamsClient.play`, False for keep-alive silence."""


class HeardFrame(NamedTuple):
    """Gateway audio that the caller's speaker played."""

    at: float
    """``time.monotonic()`` when the frame started playing."""
    audio: bytes
    """Up to 160 μ-law bytes."""


class ReceivedEvent(NamedTuple):
    """One message from the gateway: ``(monotonic time it arrived, event, mark name or "")``."""

    at: float
    event: str
    name: str


class MarkEcho(NamedTuple):
    """A mark this client echoed back to the gateway."""

    at: float
    """``time.monotonic()`` just after the echo was sent."""
    name: str
    cleared: bool
    """True when a ``clear`` released the mark, False when the audio before it finished playing."""


@dataclass
class _Utterance:
    """The frames of one :meth:`MediaStreamsClient.play` call, and the future it waits on."""

    frames: deque[bytes]
    done: asyncio.Future[float]


# Playout buffer entries, in arrival order: audio bytes, or the name of a mark (str) to echo once
# everything before it has played.
_PlayoutEntry = bytes | str


@dataclass
class _Notifier:
    """Wakes every waiter on the next change (a fresh event per generation, no lost wake-ups)."""

    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def _sleep_until(deadline: float) -> None:
    """Sleep to an absolute monotonic deadline, so that lateness never accumulates."""
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class MediaStreamsClient:
    """Twilio's side of one bidirectional Media Stream, for the local carrier, tests and benchmarks.

    Parameters
    ----------
    url:
        The gateway's ``ws://`` or ``wss://`` URL.
    stream_sid, call_sid, account_sid:
        The identifiers Twilio would put in ``start`` (and ``streamSid`` on every message).
    custom_parameters:
        The TwiML ``<Parameter>`` values, for example the stream token.
    send_silence:
        Keep sending silence frames between utterances, as a phone line does (default). With False
        the client sends media only while :meth:`play` runs.
    headers:
        Extra HTTP headers for the upgrade request (Twilio sends ``X-Twilio-Signature``).

    Examples
    --------
    ::

        async with MediaStreamsClient(url, stream_sid="MZ1", call_sid="CA1", account_sid="AC1",
                                      custom_parameters={"token": token}) as client:
            spoke_at = await client.play(ulaw)
            answered_at = await client.wait_for_audio(5.0, after=spoke_at)

    Limitations
    -----------
    One stream per client; not reusable after :meth:`hangup`. Only the ``inbound`` track is sent.
    When the event loop stalls, the uplink catches up with a burst of frames (as a jittery network
    would deliver them) rather than stretch the call.
    """

    def __init__(self, url: str, *, stream_sid: str, call_sid: str, account_sid: str,
                 custom_parameters: Mapping[str, str] | None = None, send_silence: bool = True,
                 headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.stream_sid = stream_sid
        self.send_silence = send_silence
        self._headers = dict(headers or {})
        self._side = TwilioSide(stream_sid, call_sid, account_sid, dict(custom_parameters or {}))
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()
        self._origin = 0.0  # monotonic time of media slot 0 (timestamp 0)
        self._chunks = 0
        self._speech: deque[_Utterance] = deque()
        self._speech_ready = asyncio.Event()
        self._playout: deque[_PlayoutEntry] = deque()
        self._playout_ready = asyncio.Event()
        self._changed = _Notifier()
        self._uplink_task: asyncio.Task[None] | None = None
        self._playout_task: asyncio.Task[None] | None = None
        self._downlink_task: asyncio.Task[None] | None = None
        self._hanging_up = False

        self.closed = asyncio.Event()
        """Set once the connection is closed and the uplink and playout tasks have stopped."""
        self.sent: list[SentFrame] = []
        """Every media frame sent, speech and silence, in order."""
        self.heard: list[HeardFrame] = []
        """Gateway audio in the order it played, with when each frame started playing."""
        self.received_events: list[ReceivedEvent] = []
        """Every gateway message, in arrival order."""
        self.clear_times: list[float] = []
        """Arrival time of each ``clear``."""
        self.marks_echoed: list[MarkEcho] = []
        """Every mark echoed back, in order."""
        self.dropped_bytes = 0
        """Gateway audio that a ``clear`` dropped before it played."""
        self.protocol_errors: list[str] = []
        """Gateway messages this client could not understand (it logs and skips them)."""

    # Lifecycle

    async def connect(self) -> Self:
        """Open the socket, send ``connected`` and ``start``, and start the uplink, downlink and playout.

        Raises whatever ``websockets`` raises when the gateway cannot be reached or refuses the
        upgrade (``OSError``, ``websockets.exceptions.InvalidStatus``, ``TimeoutError``).
        """
        if self._ws is not None:
            raise RuntimeError("this client already connected; create one client per stream")
        from websockets.asyncio.client import connect

        options: dict[str, Any] = {
            "open_timeout": CONNECT_TIMEOUT_S, "close_timeout": CLOSE_TIMEOUT_S, "compression": None,
            "additional_headers": self._headers,
        }
        if "proxy" in inspect.signature(connect).parameters:  # websockets >= 15 honours *_proxy env vars
            options["proxy"] = None  # Twilio dials the gateway directly; so do we
        self._ws = await connect(self.url, **options)
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(self._side.connected())
            await self._ws.send(self._side.start())
        except ConnectionClosed as error:
            await self._ws.close()
            self.closed.set()
            raise MediaStreamClosed(f"the gateway closed the stream during the handshake: {error}") from None
        self._origin = time.monotonic()
        loop = asyncio.get_running_loop()
        self._uplink_task = loop.create_task(self._uplink(), name=f"media-streams-uplink:{self.stream_sid}")
        self._playout_task = loop.create_task(self._play_out(), name=f"media-streams-playout:{self.stream_sid}")
        for worker in (self._uplink_task, self._playout_task):
            worker.add_done_callback(self._worker_done)
        self._downlink_task = loop.create_task(self._downlink(), name=f"media-streams-downlink:{self.stream_sid}")
        return self

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.hangup()

    async def hangup(self) -> None:
        """Send ``stop`` (after the last media frame and mark echo) and close the socket.

        Idempotent, and a no-op beyond waiting when the gateway already closed the stream. Re-raises
        an unexpected failure of one of the client's tasks.
        """
        ws = self._require_connection()
        if not self.closed.is_set() and not self._hanging_up:
            self._hanging_up = True
            await self._stop_workers()  # Twilio sends nothing after stop
            from websockets.exceptions import ConnectionClosed

            try:
                await self._send(self._side.stop)
            except ConnectionClosed:
                pass  # the gateway left first: the stream is over either way
            await ws.close()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the stream has ended and every task of this client has finished.

        Re-raises the first unexpected exception of those tasks. Without a deadline of its own: it
        returns once the connection closes (bounded by websockets' close timeout after a hangup).
        """
        tasks = [task for task in (self._downlink_task, self._uplink_task, self._playout_task) if task]
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    @property
    def close_code(self) -> int | None:
        """The websocket close code once closed (1000 after a clean hangup, 1006 after an abrupt drop)."""
        return None if self._ws is None else self._ws.close_code

    # The caller's side

    async def play(self, ulaw: bytes) -> float:
        """Speak ``ulaw`` into the call in real time; return when its last frame was sent.

        The audio goes out as 160-byte frames, one per 20 ms slot of the stream's clock, the last
        frame padded with μ-law silence. Concurrent calls queue one after another. Cancelling a call
        stops the rest of its audio.

        Returns
        -------
        float
            ``time.monotonic()`` just after the last frame was sent (``sent[-1].at`` for it).

        Raises
        ------
        MediaStreamClosed
            The stream ended before all of the audio was sent.
        """
        if not ulaw:
            raise ValueError("play() needs at least one byte of μ-law audio")
        self._require_open()
        frames = deque(ulaw[i:i + FRAME_BYTES].ljust(FRAME_BYTES, SILENCE_BYTE)
                       for i in range(0, len(ulaw), FRAME_BYTES))
        utterance = _Utterance(frames, asyncio.get_running_loop().create_future())
        self._speech.append(utterance)
        self._speech_ready.set()
        try:
            return await utterance.done
        finally:
            frames.clear()  # cancelled: the uplink skips what is left

    async def send_dtmf(self, digit: str) -> None:
        """Send one ``dtmf`` message, as Twilio does when the caller presses a key."""
        if digit not in DTMF_DIGITS:
            raise ValueError(f"DTMF digit must be one of 0-9, * or #, not {digit!r}")
        self._require_open()
        await self._send(functools.partial(self._side.dtmf, digit))

    # Observing the gateway

    async def wait_for_audio(self, timeout: float, *, after: float | None = None) -> float:
        """The arrival time of the first gateway ``media`` message received after ``after``.

        ``after`` is a ``time.monotonic()`` value and defaults to now. For the latency from the end
        of the caller's speech, pass the value :meth:`play` returned.

        Raises ``TimeoutError`` after ``timeout`` seconds and :class:`MediaStreamClosed` when the
        stream ends first.
        """
        return await self.wait_for_event("media", timeout, after=after)

    async def wait_for_event(self, event: str, timeout: float, *, name: str | None = None,
                             after: float | None = None) -> float:
        """The arrival time of the first gateway ``event`` (with mark ``name``, if given) after ``after``.

        Same clock, default and errors as :meth:`wait_for_audio`.
        """
        since = time.monotonic() if after is None else after
        index = bisect.bisect_right(self.received_events, since, key=lambda received: received.at)
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed.current()
                for received in self.received_events[index:]:
                    if received.event == event and (name is None or received.name == name):
                        return received.at
                index = len(self.received_events)
                if self.closed.is_set():
                    raise MediaStreamClosed(f"the stream ended before a {event!r} message arrived")
                await changed.wait()

    @property
    def heard_audio(self) -> bytes:
        """Everything in :attr:`heard`, joined."""
        return b"".join(frame.audio for frame in self.heard)

    # Tasks

    async def _uplink(self) -> None:
        """The caller's line: one frame per 20 ms slot, each slot due at ``origin + slot × 20 ms``."""
        from websockets.exceptions import ConnectionClosed

        slot = 0
        try:
            while True:
                await _sleep_until(self._origin + slot * FRAME_PERIOD_S)
                frame, utterance = self._next_speech_frame()
                if frame is None and not self.send_silence:
                    self._speech_ready.clear()
                    await self._speech_ready.wait()
                    # Silence is not sent, but the stream clock keeps running (timestamps follow it).
                    slot = max(slot, math.ceil((time.monotonic() - self._origin) / FRAME_PERIOD_S))
                    continue
                audio = _SILENCE_FRAME if frame is None else frame
                timestamp_ms = slot * FRAME_MS
                at = await self._send(functools.partial(self._side.media, audio, timestamp_ms))
                self._chunks += 1
                self.sent.append(SentFrame(at, timestamp_ms, self._chunks, audio, frame is not None))
                if utterance is not None and not utterance.frames and not utterance.done.done():
                    utterance.done.set_result(at)
                slot += 1
        except ConnectionClosed:
            return  # the downlink notices too, and shuts the stream down

    def _next_speech_frame(self) -> tuple[bytes | None, _Utterance | None]:
        while self._speech:
            utterance = self._speech[0]
            if utterance.frames and not utterance.done.done():
                return utterance.frames.popleft(), utterance
            self._speech.popleft()
        return None, None

    async def _play_out(self) -> None:
        """The caller's speaker: drain the playout buffer at line rate, echo marks as they come due."""
        from websockets.exceptions import ConnectionClosed

        ends_at = time.monotonic()  # when the audio played so far finishes
        try:
            while True:
                if not self._playout:
                    self._playout_ready.clear()
                    await self._playout_ready.wait()
                    ends_at = max(ends_at, time.monotonic())  # after an underrun, play from now
                    continue
                head = self._playout[0]
                if isinstance(head, str):  # a mark: all audio before it has finished playing
                    self._playout.popleft()
                    await self._echo_mark(head, cleared=False)
                    continue
                if len(head) > FRAME_BYTES:
                    frame, self._playout[0] = head[:FRAME_BYTES], head[FRAME_BYTES:]
                else:
                    frame = self._playout.popleft()  # type: ignore[assignment]
                self.heard.append(HeardFrame(ends_at, frame))
                ends_at += len(frame) / PLAYOUT_BYTES_PER_S
                await _sleep_until(ends_at)
        except ConnectionClosed:
            return

    async def _downlink(self) -> None:
        """Read the gateway until the connection ends, then shut the stream down."""
        from websockets.exceptions import ConnectionClosed

        assert self._ws is not None
        try:
            async for raw in self._ws:
                await self._on_message(raw, time.monotonic())
        except ConnectionClosed:
            pass  # an abrupt drop: the same shutdown as a clean close
        finally:
            await self._shut_down()

    async def _on_message(self, raw: str | bytes, at: float) -> None:
        try:
            event, audio, name = parse_outbound(raw)
        except (ValueError, KeyError, TypeError) as error:  # ProtocolError and binascii.Error are ValueErrors
            self._protocol_error(f"unreadable message ({type(error).__name__}: {error}): {raw[:120]!r}")
            return
        self.received_events.append(ReceivedEvent(at, event, name or ""))
        if event == "media" and audio:
            self._playout.append(audio)
            self._playout_ready.set()
        elif event == "mark" and name is not None:
            self._playout.append(name)
            self._playout_ready.set()
        elif event == "clear":
            self.clear_times.append(at)
            pending = [entry for entry in self._playout if isinstance(entry, str)]
            self.dropped_bytes += sum(len(entry) for entry in self._playout if isinstance(entry, bytes))
            self._playout.clear()
            for mark in pending:
                await self._echo_mark(mark, cleared=True)
        elif event != "media":
            self._protocol_error(f"unknown event {event!r}")
        self._changed.notify()

    def _protocol_error(self, description: str) -> None:
        logger.warning("media stream %s: %s", self.stream_sid, description)
        self.protocol_errors.append(description)

    async def _echo_mark(self, name: str, *, cleared: bool) -> None:
        at = await self._send(functools.partial(self._side.mark, name))
        self.marks_echoed.append(MarkEcho(at, name, cleared))

    async def _send(self, build: Callable[[], str]) -> float:
        """Build and send one message under the lock, so that sequence numbers go out in order."""
        assert self._ws is not None
        async with self._send_lock:
            await self._ws.send(build())
            return time.monotonic()

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        # A bug in the uplink or playout ends the stream instead of leaving it half alive;
        # wait_closed() re-raises the exception.
        if not task.cancelled() and task.exception() is not None and self._downlink_task is not None:
            logger.error("media stream %s: %s failed", self.stream_sid, task.get_name(),
                         exc_info=task.exception())
            self._downlink_task.cancel()

    async def _stop_workers(self) -> None:
        workers = [task for task in (self._uplink_task, self._playout_task) if task and not task.done()]
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.wait(workers, timeout=TASK_CANCEL_TIMEOUT_S)

    async def _shut_down(self) -> None:
        await self._stop_workers()
        error = MediaStreamClosed("the media stream ended before the audio was sent")
        for utterance in self._speech:
            if not utterance.done.done():
                utterance.done.set_exception(error)
        self._speech.clear()
        assert self._ws is not None
        await self._ws.close()  # idempotent; returns at once when the gateway already went away
        self.closed.set()
        self._changed.notify()

    def _require_connection(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("not connected: use `async with MediaStreamsClient(...)` or await connect()")
        return self._ws

    def _require_open(self) -> None:
        self._require_connection()
        if self.closed.is_set() or self._hanging_up:
            raise MediaStreamClosed("the media stream has ended")
