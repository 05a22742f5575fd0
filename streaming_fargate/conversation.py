"""One call's conversation: builds its pipeline, reads its media stream, writes its state and transcript.

Lifecycle of a :class:`Conversation` (its :meth:`~Conversation.run` never raises)::

    stream start ──► greeting plays (cached audio) ─┐
                 ├─► call -> in_progress (answered_at)     background, off the event loop
                 ├─► STT session opens                     background
                 └─► heartbeats every few seconds          background
    media/mark/dtmf ──► pipeline, inline, until one of:
        stop from Twilio / clean close        completed, caller_hangup
        end_call, silence, max duration       completed, agent_hangup | silence | max_duration (we close)
        transfer_call, once announced         transfer recorded on the call, then completed, transferred
                                              (we close; the carrier then bridges the caller with <Dial>)
        abrupt disconnect                     failed, error:stream_lost
        an engine or stage fails              failed, error:<stage>_failed (we close, 1011)
        gateway drain runs out                failed, error:gateway_shutdown
    then: stop the pipeline (bounded) ─► flush transcript writes ─► recording (unless record: false)
          ─► final status ─► extraction job

A machine answered: the carrier's answering-machine detection flags the call (``answered_by:
machine``) and, with ``voicemail_action: leave_message``, redirects it to a second stream in
voicemail mode (:mod:`streaming_fargate.voicemail`), which ends this one with ``stop``. Before its
final write a conversation re-reads the call: when it is flagged it writes nothing (no
``completed``, no extraction job): the voicemail stream or the carrier webhook owns the outcome.

Every store and queue call goes through :class:`CallStore`, blocking, and is run in a thread
(``asyncio.to_thread``); transcript segments and latency entries are written in order by one
background writer (:class:`CallWrites`) while the call goes on.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Mapping, Optional, Protocol

from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from callingbox.core.call_states import CallStatus, EndReason
from callingbox.core.clock import now_s
from callingbox.core.media import mulaw
from callingbox.core.media.protocol import Dtmf, Mark, Media, Start, Stop, parse
from callingbox.core.observability import get_logger, get_metrics
from callingbox.core.settings import Settings

from .frames import CallerAudioFrame, DtmfFrame, MarkEchoFrame, SpeakFrame, TurnTimings
from .pipeline import CallContext, Pipeline, cancel_and_wait
from .processors.bargein import BargeIn
from .processors.endpointing import Endpointing
from .processors.first_message import GreetingCache
from .processors.playout import Playout
from .processors.recognition import SpeechRecognition
from .processors.recording import CallRecorder
from .processors.sentence_chunker import SentenceChunkerProcessor
from .processors.silence import SilenceWatch
from .processors.synthesis import SpeechSynthesis
from .processors.turns import Turns
from .processors.vad import VoiceActivity
from .settings import GatewaySettings
from .tools import ToolRunner

__all__ = ["Conversation", "CallStore", "DynamoCallStore", "CallWrites", "STORE_TIMEOUT_S", "WRITE_DRAIN_TIMEOUT_S"]

# Bounded waits at the end of a call: the caller is gone, but a stuck store must not pin the task.
STORE_TIMEOUT_S = 15.0
# Hanging up waits at most this long for the ending reason to be noted on the call (one small
# write, milliseconds): a caller must not hear dead air because the store is slow.
ENDING_NOTE_TIMEOUT_S = 1.0
WRITE_DRAIN_TIMEOUT_S = 15.0
# Close codes (RFC 6455): normal hang-up, and "internal error" when the call failed on our side.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
# A call record keeps at most this many per-turn latency entries (the item must stay small).
MAX_LATENCY_ENTRIES = 200
# A second stream of a call skips at most this many transcript seqs found taken before giving up a segment.
MAX_SEQ_COLLISIONS = 20
# Malformed messages logged per call; more are only counted.
MAX_LOGGED_BAD_MESSAGES = 3
# The closing handshake of our side of the socket (websockets' close timeout is 2 s) and some margin.
CLOSE_GRACE_S = 3.0
# The agent default (API.md) when a snapshot has no max_duration_seconds.
DEFAULT_MAX_DURATION_S = 1800.0


def _number(value: Any, default: float) -> float:
    return default if value is None else float(value)


def _speech_hints(snapshot: Mapping[str, Any], context: Optional[Mapping[str, Any]]) -> tuple[str, ...]:
    """Phrases the caller is likely to say (enumeration options, short context values), for the STT."""
    from .engines.builtin_dialogue import speech_hints

    return tuple(speech_hints(snapshot, context))


class CallStore(Protocol):
    """The persistence one call needs; blocking methods, called from threads."""

    def get_call(self, workspace_id: str, call_id: str) -> dict[str, Any]:
        """The call document (``NotFound`` from :mod:`callingbox.core.errors` if there is none)."""

    def transition(self, workspace_id: str, call_id: str, target: CallStatus, **fields: Any) -> tuple[bool, dict[str, Any]]:
        """Move the call forward (race-safe); ``(changed, document after)``."""

    def append_latency(self, workspace_id: str, call_id: str, entry: dict[str, Any]) -> None:
        """Append one turn's figures to the call's ``latency`` list."""

    def heartbeat(self, workspace_id: str, call_id: str, now: float) -> bool:
        """Report the call alive; False when it is no longer live (ended elsewhere)."""

    def append_segment(self, workspace_id: str, call_id: str, seq: int, party: str, text: str, start_ms: int,
                       end_ms: int, interrupted: bool) -> Optional[bool]:
        """Store transcript segment ``seq``; False when that ``seq`` is already stored (nothing written)."""

    def transcript_tail(self, workspace_id: str, call_id: str) -> tuple[int, int]:
        """``(segments stored, the latest end_ms among them)``; ``(0, 0)`` for an empty transcript."""

    def update_segment(self, workspace_id: str, call_id: str, seq: int, *, text: Optional[str],
                       end_ms: Optional[int], interrupted: Optional[bool]) -> None:
        """Change transcript segment ``seq`` (truncation on barge-in)."""

    def enqueue_extraction(self, workspace_id: str, call_id: str) -> None:
        """Put the post-call job on the extraction queue."""

    def save_recording(self, workspace_id: str, call_id: str, caller_ulaw: bytes, agent_ulaw: bytes) -> None:
        """Store the two-channel recording and note it on the call."""

    def record_transfer(self, workspace_id: str, call_id: str, transfer: dict[str, Any]) -> bool:
        """Set the call's ``transfer`` object; False (nothing written) when the call has already ended."""

    def note_ending(self, workspace_id: str, call_id: str, reason: str) -> bool:
        """Set the call's ``ending_reason`` (why our side is closing the stream) while it is live."""

    def record_voicemail(self, workspace_id: str, call_id: str, voicemail: dict[str, Any]) -> None:
        """Set the call's ``voicemail`` object (what happened to the message), whatever its status."""


class DynamoCallStore:
    """:class:`CallStore` over :mod:`callingbox.core.store` (DynamoDB) and the extraction queue (SQS).

    The store modules are imported and bound to ``settings``' table on first use, not at import.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._queues: Any = None
        self._s3: Any = None

    def _calls(self) -> Any:
        with self._lock:
            if self._queues is None:
                from callingbox.core.queues import JobQueues
                from callingbox.core.store.binding import bind_store

                bind_store(self._settings)
                self._queues = JobQueues(self._settings)
        from callingbox.core.store import calls

        return calls

    def get_call(self, workspace_id: str, call_id: str) -> dict[str, Any]:
        return dict(self._calls().get_call(workspace_id, call_id).doc)

    def transition(self, workspace_id: str, call_id: str, target: CallStatus, **fields: Any) -> tuple[bool, dict[str, Any]]:
        outcome = self._calls().transition_call(workspace_id, call_id, target, **fields)
        if outcome.doc.get("status") == CallStatus(target).value:
            from callingbox.core.call_events import announce

            announce(self._settings, workspace_id, outcome.doc)  # call.answered / failed / no_answer
        return outcome.changed, outcome.doc

    def append_latency(self, workspace_id: str, call_id: str, entry: dict[str, Any]) -> None:
        def change(doc: dict[str, Any]) -> dict[str, Any]:
            doc["latency"] = [*(doc.get("latency") or []), entry][-MAX_LATENCY_ENTRIES:]
            return doc

        self._calls().update_call(workspace_id, call_id, change)

    def heartbeat(self, workspace_id: str, call_id: str, now: float) -> bool:
        return bool(self._calls().heartbeat(workspace_id, call_id, now))

    def append_segment(self, workspace_id: str, call_id: str, seq: int, party: str, text: str, start_ms: int,
                       end_ms: int, interrupted: bool) -> Optional[bool]:
        self._calls()
        from callingbox.core.store.transcripts import append_segment

        return append_segment(workspace_id, call_id, seq, party, text, start_ms, end_ms, interrupted)

    def transcript_tail(self, workspace_id: str, call_id: str) -> tuple[int, int]:
        self._calls()
        from callingbox.core.store.transcripts import list_segments

        segments = list_segments(workspace_id, call_id)
        return len(segments), max((int(segment["end_ms"]) for segment in segments), default=0)

    def update_segment(self, workspace_id: str, call_id: str, seq: int, *, text: Optional[str],
                       end_ms: Optional[int], interrupted: Optional[bool]) -> None:
        self._calls()
        from callingbox.core.store.transcripts import update_segment

        update_segment(workspace_id, call_id, seq, text=text, end_ms=end_ms, interrupted=interrupted)

    def enqueue_extraction(self, workspace_id: str, call_id: str) -> None:
        self._calls()
        self._queues.send("extraction", {"workspace_id": workspace_id, "call_id": call_id})

    def save_recording(self, workspace_id: str, call_id: str, caller_ulaw: bytes, agent_ulaw: bytes) -> None:
        from callingbox.core.recordings import write_recording

        calls = self._calls()
        with self._lock:
            if self._s3 is None:
                from callingbox.core.aws_clients import create_client

                self._s3 = create_client(
                    "s3", region_name=self._settings.region, endpoint_url=self._settings.aws_endpoint_url)
        key = write_recording(self._s3, self._settings.recordings_bucket, workspace_id, call_id, caller_ulaw,
                              agent_ulaw)
        calls.set_recording_key(workspace_id, call_id, key)

    def record_transfer(self, workspace_id: str, call_id: str, transfer: dict[str, Any]) -> bool:
        from callingbox.core.call_states import is_terminal

        def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
            if is_terminal(doc["status"]):
                return None
            doc["transfer"] = transfer
            return doc

        return self._calls().update_call(workspace_id, call_id, change).changed

    def record_voicemail(self, workspace_id: str, call_id: str, voicemail: dict[str, Any]) -> None:
        def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
            if doc.get("voicemail") == voicemail:
                return None
            doc["voicemail"] = voicemail
            return doc

        self._calls().update_call(workspace_id, call_id, change)

    def note_ending(self, workspace_id: str, call_id: str, reason: str) -> bool:
        from callingbox.core.call_states import is_terminal

        def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
            if is_terminal(doc["status"]) or doc.get("ending_reason") == reason:
                return None
            doc["ending_reason"] = reason
            return doc

        return self._calls().update_call(workspace_id, call_id, change).changed


class CallWrites:
    """The transcript segments and latency entries of one call, written in order by one background task.

    :meth:`append` numbers segments (``seq`` from 0) as they are queued, so the numbering follows the
    conversation even though writes happen later, in a thread. A failed write is logged and skipped:
    the call goes on.

    ``follows`` is for a second stream of a call that already has a transcript (voicemail mode): a
    blocking ``() -> (first seq, offset ms)``, asked before the first write, that places this
    stream's segments after the stored ones, on the call's clock. A ``seq`` found taken (the first
    stream's last writes landing late) moves this stream's segments one further.
    """

    def __init__(self, store: CallStore, workspace_id: str, call_id: str, *,
                 follows: Optional[Callable[[], tuple[int, int]]] = None) -> None:
        self._store = store
        self._ws = workspace_id
        self._call = call_id
        self._queue: asyncio.Queue[tuple[str, Callable[[], None]]] = asyncio.Queue()
        self._seq = 0
        self._follows = follows
        self._placed = follows is None
        self._base = 0  # the call's seq of this log's segment 0
        self._offset_ms = 0  # where this stream's clock starts on the call's
        self._log = get_logger("gateway")

    def append(self, party: str, text: str, start_ms: int, end_ms: int, interrupted: bool = False) -> int:
        """Queue a new segment; returns its ``seq``."""
        seq, self._seq = self._seq, self._seq + 1
        end = max(end_ms, start_ms)
        self._queue.put_nowait(("append_segment", lambda: self._append(seq, party, text, start_ms, end, interrupted)))
        return seq

    def update(self, seq: int, *, text: Optional[str] = None, end_ms: Optional[int] = None,
               interrupted: Optional[bool] = None) -> None:
        """Queue a change to segment ``seq`` (negative: a segment that was never written; ignored)."""
        if seq < 0:
            return
        self._queue.put_nowait(("update_segment", lambda: self._update(seq, text, end_ms, interrupted)))

    def _place(self) -> None:
        if not self._placed and self._follows is not None:
            self._base, self._offset_ms = self._follows()
            self._placed = True

    def _append(self, seq: int, party: str, text: str, start_ms: int, end_ms: int, interrupted: bool) -> None:
        self._place()
        offset = self._offset_ms
        for _ in range(MAX_SEQ_COLLISIONS):
            written = self._store.append_segment(self._ws, self._call, self._base + seq, party, text,
                                                 start_ms + offset, end_ms + offset, interrupted)
            if written is not False or self._follows is None:
                return
            self._base += 1
        raise RuntimeError(f"no free transcript seq after {MAX_SEQ_COLLISIONS} tries")

    def _update(self, seq: int, text: Optional[str], end_ms: Optional[int], interrupted: Optional[bool]) -> None:
        self._place()
        end = None if end_ms is None else end_ms + self._offset_ms
        self._store.update_segment(self._ws, self._call, self._base + seq, text=text, end_ms=end,
                                   interrupted=interrupted)

    def latency(self, entry: dict[str, Any]) -> None:
        """Queue one turn's latency entry."""
        self._queue.put_nowait(("append_latency", lambda: self._store.append_latency(self._ws, self._call, entry)))

    async def run(self) -> None:
        """Write queued items until cancelled."""
        while True:
            name, write = await self._queue.get()
            try:
                await asyncio.to_thread(write)
            except Exception as error:  # noqa: BLE001 - a lost segment must not end the call
                self._log.warning("call write failed", extra={"call_id": self._call, "write": name,
                                                               "error": repr(error)})
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float) -> bool:
        """Wait (at most ``timeout``) until everything queued is written; True if it was."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class Conversation:
    """Runs one call from its ``start`` message to its final status."""

    def __init__(self, *, settings: GatewaySettings, store: CallStore, engines: Any, greetings: GreetingCache,
                 websocket: Any, start: Start, workspace_id: str, call: Mapping[str, Any],
                 tools: Optional[ToolRunner] = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.workspace_id = workspace_id
        self.call_id = str(call["id"])
        self.call = dict(call)
        self.snapshot: dict[str, Any] = dict(call.get("agent_snapshot") or {})
        self._store = store
        self._engines = engines
        self._greetings = greetings
        self._ws = websocket
        self._start = start
        self._tools = tools
        self._clock = clock
        self._log = get_logger("gateway")
        self.end_reason: Optional[str] = None
        self._close_code = CLOSE_NORMAL
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: Optional[asyncio.Task[None]] = None
        self._answered: Optional[asyncio.Task[Any]] = None
        self._writer: Optional[asyncio.Task[None]] = None
        self._caller_bytes = 0
        self._bad_messages = 0

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> str:
        """Run the call until its stream ends; returns the end reason. Never raises."""
        self.origin = self._clock()
        self.started_wall = now_s()
        self.ctx = CallContext(call_id=self.call_id, clock=self._clock, origin=self.origin, hang_up=self.hang_up,
                               transfer=self.transfer, fail=self.fail, record_latency=self._record_latency)
        self.writes = self._transcript_log()
        self._writer = self._spawn(self.writes.run(), "writes")
        # ``record`` defaults to true (API.md); false means the audio is never kept at all.
        self.recorder = CallRecorder(self.origin) if self._records() else None
        self.pipeline = self._build()
        try:
            await self.pipeline.start()
            await self._begin()
            self._answered = self._spawn(self._mark_answered(), "answered")
            self._spawn(self._heartbeats(), "heartbeats")
            await self._read()
        except Exception as error:  # noqa: BLE001 - a bug here must still end the call properly
            self.fail("gateway_error", error)
        finally:
            await self._finish()
        return self.end_reason or "caller_hangup"

    def _transcript_log(self) -> CallWrites:
        return CallWrites(self._store, self.workspace_id, self.call_id)

    def _records(self) -> bool:
        return self.snapshot.get("record", True) is not False

    def _build(self) -> Pipeline:
        snap, tt, ctx = self.snapshot, self.settings.turn_taking, self.ctx
        language = str(snap.get("language") or "en-US")
        voice = self.voice
        turns = Turns(self._engines.llm, snapshot=snap, context=self.call.get("context"), ctx=ctx, tools=self._tools,
                      transcript=self.writes)
        processors = [
            VoiceActivity(speech_rms=tt.speech_rms),
            SpeechRecognition(self._engines.stt, language=language, ctx=ctx,
                              hints=_speech_hints(snap, self.call.get("context"))),
            BargeIn(threshold=_number(snap.get("interruption_threshold"), 0.5), speech_rms=tt.speech_rms),
            Endpointing(silence_ms=tt.endpoint_silence_ms, unstable_silence_ms=tt.unstable_silence_ms, ctx=ctx,
                        early_start=tt.early_start),
            SilenceWatch(reprompt_after_s=tt.reprompt_after_s, max_reprompts=tt.max_reprompts,
                         max_duration_s=_number(snap.get("max_duration_seconds"), DEFAULT_MAX_DURATION_S),
                         language=language, ctx=ctx),
            turns,
            SentenceChunkerProcessor(),
            SpeechSynthesis(self._engines.tts, voice=voice, language=language, ctx=ctx),
            Playout(send=self._send, stream_sid=self._start.stream_sid, ctx=ctx, transcript=self.writes,
                    recorder=self.recorder),
        ]
        self._turns = turns
        return Pipeline(processors)

    @property
    def voice(self) -> str:
        """The TTS voice: the agent's, else the deployment default."""
        return str(self.snapshot.get("voice") or self.settings.core.default_voice)

    async def _begin(self) -> None:
        """The agent's first move once the pipeline runs: the greeting, if the agent has one."""
        key = GreetingCache.key(self.snapshot, voice=self.voice)
        if key is not None:
            audio = self._greetings.audio(key, self._engines.tts)
            await self._turns.queue_frame(SpeakFrame(key[1], "greeting", audio))

    async def _send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed:
            pass  # the read loop sees the close and ends the call; nothing more can be said

    async def _read(self) -> None:
        push = self.pipeline.push
        try:
            async for raw in self._ws:
                try:
                    message = parse(raw)
                except (ValueError, TypeError, AttributeError) as error:  # ProtocolError, or a field of the wrong type
                    self._bad_message(error)
                    continue
                if isinstance(message, Media):
                    payload = message.payload
                    if self.recorder is not None:
                        self.recorder.caller_audio(payload)
                    pcm = mulaw.ulaw_to_pcm16(payload)
                    offset = self._caller_bytes // 8
                    self._caller_bytes += len(payload)
                    await push(CallerAudioFrame(pcm, mulaw.rms(pcm), self._clock(), offset))
                elif isinstance(message, Mark):
                    await push(MarkEchoFrame(message.name, self._clock()))
                elif isinstance(message, Dtmf):
                    await push(DtmfFrame(message.digit, self._clock(), self._caller_bytes // 8))
                elif isinstance(message, Stop):
                    self._end("caller_hangup")
                    return
                if self.end_reason is not None:
                    return
        except ConnectionClosedError:
            self._end("error:stream_lost")
        self._end("caller_hangup")  # a clean close without ``stop``: the other side ended the stream

    def _bad_message(self, error: Exception) -> None:
        self._bad_messages += 1
        if self._bad_messages <= MAX_LOGGED_BAD_MESSAGES:
            self._log.warning("malformed media stream message skipped",
                              extra={"call_id": self.call_id, "error": str(error), "count": self._bad_messages})

    # -- ending --------------------------------------------------------------------------------

    def _end(self, reason: str, code: Optional[int] = None) -> bool:
        """Record the first end reason (later ones are ignored); True if this one won."""
        if self.end_reason is not None:
            return False
        self.end_reason = reason
        if code is not None:
            self._close_code = code
        return True

    def hang_up(self, reason: str) -> None:
        """End the call from our side (end_call, silence, max duration): close the stream."""
        if self._end(reason, CLOSE_NORMAL):
            self._log.info("hanging up", extra={"call_id": self.call_id, "reason": reason})
            self._closing = self._spawn(self._note_then_close(reason), "hang-up")

    def transfer(self, to: str) -> None:
        """Hand the caller over to ``to`` (``transfer_call``, once announced): record the transfer on
        the call, then close the stream. The carrier then fetches the ``<Connect action>`` URL, whose
        webhook reads the transfer and bridges the caller with ``<Dial>``."""
        if self._end(EndReason.TRANSFERRED.value, CLOSE_NORMAL):
            self._log.info("transferring", extra={"call_id": self.call_id, "to": to})
            self._closing = self._spawn(self._transfer_then_close(to), "transfer")

    async def _transfer_then_close(self, to: str) -> None:
        transfer = {"to": to, "status": "requested", "requested_at": now_s()}
        try:
            recorded = await asyncio.wait_for(asyncio.to_thread(
                self._store.record_transfer, self.workspace_id, self.call_id, transfer), STORE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - the call still ends; it cannot be bridged
            self._log.error("transfer not recorded", extra={"call_id": self.call_id, "error": repr(error)})
            recorded = False
        if not recorded:
            # Without the record the webhook has nobody to dial: the call ends here, as our failure.
            self.end_reason, self._close_code = "error:transfer_not_recorded", CLOSE_INTERNAL_ERROR
        await self._ws.close(self._close_code)

    async def _note_then_close(self, reason: str) -> None:
        """Say why on the call, then close the stream.

        Closing the stream makes the carrier end the call, and its final status callback often lands
        before this conversation's own end write (which waits for the transcript and the
        recording): the note lets that callback record our reason (``agent_hangup``, ``silence``,
        ``error:…``) instead of taking the hang-up for the caller's.
        """
        try:
            await asyncio.wait_for(asyncio.to_thread(self._store.note_ending, self.workspace_id, self.call_id, reason),
                                   ENDING_NOTE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - the call still ends; only the reason may be wrong
            self._log.warning("ending reason not noted", extra={"call_id": self.call_id, "error": repr(error)})
        await self._ws.close(self._close_code)

    def fail(self, detail: str, error: Optional[BaseException] = None) -> None:
        """End the call as failed with ``error:<detail>``."""
        if self._end(f"error:{detail}", CLOSE_INTERNAL_ERROR):
            self._log.error("call failed", extra={"call_id": self.call_id, "detail": detail, "error": repr(error)})
            if self._closing is None:
                self._closing = self._spawn(self._note_then_close(self.end_reason or f"error:{detail}"), "fail")

    def abort(self, reason: str) -> None:
        """End the call because the gateway stops (the drain ran out)."""
        if self._end(reason, CLOSE_GOING_AWAY):
            self._close_stream()

    def _close_stream(self) -> None:
        if self._closing is None:
            self._closing = self._spawn(self._ws.close(self._close_code), "close")

    async def _finish(self) -> None:
        reason = self.end_reason or "caller_hangup"
        await self.pipeline.stop()
        if self._closing is None:
            self._closing = self._spawn(self._ws.close(self._close_code), "close")
        for task in self._tasks - {self._answered, self._closing, self._writer}:
            task.cancel()
        if not await self.writes.drain(WRITE_DRAIN_TIMEOUT_S):
            self._log.warning("transcript writes still pending at the end of the call", extra={"call_id": self.call_id})
        answered: dict[str, Any] = {}
        if self._answered is not None:
            done, _ = await asyncio.wait({self._answered}, timeout=STORE_TIMEOUT_S)
            if self._answered in done and not self._answered.cancelled() and self._answered.exception() is None:
                answered = self._answered.result() or {}
        if reason == EndReason.TRANSFERRED.value:  # the transfer goes on the call before its final status
            await asyncio.wait({self._closing}, timeout=STORE_TIMEOUT_S + CLOSE_GRACE_S)
            reason = self.end_reason or reason
        await self._save_recording()
        await self._write_end(reason, answered)
        for task in list(self._tasks):
            await cancel_and_wait(task, 2.0)
        self._flush_metrics()

    async def _save_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None or not recorder.caller:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(self._store.save_recording, self.workspace_id, self.call_id,
                                                     bytes(recorder.caller), bytes(recorder.agent)), STORE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - the call's outcome matters more than its recording
            self._log.error("recording not saved", extra={"call_id": self.call_id, "error": repr(error)})

    def _timing(self, answered: Mapping[str, Any]) -> dict[str, int]:
        """``ended_at`` (now), ``duration_seconds`` (from the dial) and ``billable_seconds`` (answered time)."""
        ended_at = now_s()
        answered_at = answered.get("answered_at") or self.call.get("answered_at") or self.started_wall
        started_at = answered.get("started_at") or self.call.get("started_at") or answered_at
        return {"ended_at": ended_at, "duration_seconds": max(0, ended_at - int(started_at)),
                "billable_seconds": max(0, ended_at - int(answered_at))}

    async def _answered_by_machine(self) -> bool:
        """Re-read the call: True when answering-machine detection has flagged it since it started."""
        try:
            doc = await asyncio.wait_for(asyncio.to_thread(self._store.get_call, self.workspace_id, self.call_id),
                                         STORE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - unknown: write the end as usual
            self._log.warning("call not re-read before its final write", extra={"call_id": self.call_id,
                                                                                 "error": repr(error)})
            return False
        return doc.get("answered_by") == "machine"

    async def _write_end(self, reason: str, answered: Mapping[str, Any]) -> None:
        if await self._answered_by_machine():
            self._log.info("a machine answered: the voicemail stream or the carrier webhook ends the call",
                           extra={"call_id": self.call_id, "end_reason": reason})
            return
        target = CallStatus.FAILED if reason.startswith("error:") else CallStatus.COMPLETED
        fields = {"end_reason": reason, **self._timing(answered)}
        try:
            changed, _ = await asyncio.wait_for(
                asyncio.to_thread(self._store.transition, self.workspace_id, self.call_id, target, **fields),
                STORE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - the sweeper ends the call if this never lands
            self._log.error("final call status not written", extra={"call_id": self.call_id, "error": repr(error)})
            return
        self._log.info("call ended", extra={"call_id": self.call_id, "status": target.value, "end_reason": reason,
                                            "changed": changed})
        if changed and target is CallStatus.COMPLETED:
            try:
                await asyncio.wait_for(asyncio.to_thread(self._store.enqueue_extraction, self.workspace_id,
                                                         self.call_id), STORE_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001
                self._log.error("extraction job not queued", extra={"call_id": self.call_id, "error": repr(error)})

    # -- background work -----------------------------------------------------------------------

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, name=f"{self.call_id}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _mark_answered(self) -> dict[str, Any]:
        """Move the call to in_progress (if it is not already) and return its document."""
        try:
            _, doc = await asyncio.to_thread(self._store.transition, self.workspace_id, self.call_id,
                                             CallStatus.IN_PROGRESS, answered_at=self.started_wall)
            return doc
        except Exception as error:  # noqa: BLE001 - the call still runs; the end write will tell
            self._log.warning("call not marked in_progress", extra={"call_id": self.call_id, "error": repr(error)})
            return {}

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                alive = await asyncio.to_thread(self._store.heartbeat, self.workspace_id, self.call_id, time.time())
            except Exception as error:  # noqa: BLE001 - one missed heartbeat is within the sweeper's margin
                self._log.warning("heartbeat failed", extra={"call_id": self.call_id, "error": repr(error)})
                continue
            if not alive:
                self._log.info("call ended elsewhere; closing its stream", extra={"call_id": self.call_id})
                self.hang_up("ended_elsewhere")
                return

    # -- telemetry -----------------------------------------------------------------------------

    def _record_latency(self, timings: TurnTimings) -> None:
        entry = timings.entry(self.origin)
        self.writes.latency(entry)
        self._log.info("turn latency", extra={"call_id": self.call_id, **entry})
        try:
            from aws_lambda_powertools.metrics import MetricUnit

            metrics = get_metrics("gateway")
            for name in ("end_of_speech_ms", "llm_first_token_ms", "tts_first_byte_ms", "first_audio_ms"):
                if entry[name] is not None:
                    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=entry[name])
        except Exception as error:  # noqa: BLE001 - telemetry never breaks a call
            self._log.debug("metric not recorded", extra={"error": repr(error)})

    def _flush_metrics(self) -> None:
        try:
            metrics = get_metrics("gateway")
            if metrics.metric_set:
                metrics.flush_metrics()
        except Exception as error:  # noqa: BLE001
            self._log.debug("metrics not flushed", extra={"error": repr(error)})
