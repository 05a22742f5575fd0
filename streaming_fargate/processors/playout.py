"""The last stage: agent audio out as Media Streams messages, and what the caller actually heard.

* Audio leaves as ``media`` messages of exactly 160 μ-law bytes (20 ms) as soon as it is
  synthesized, up to :data:`PLAYOUT_LEAD_S` ahead of what has played: Twilio buffers and plays them
  in order and a ``clear`` empties that buffer, so sending ahead never starves the line and costs
  nothing on barge-in, while the lead bounds what sits in buffers (and slows the synthesis of a
  long reply to the pace of the line). A chunk's last frame is padded with μ-law silence; a
  ``mark`` named ``<utterance>.<chunk>`` follows each chunk.
* Twilio echoes a mark once the audio before it has played: that is what was *heard*. For the
  chunk playing when a barge-in comes, the heard part is estimated from the time since it started
  playing (the later of its expected start and the previous echo), to the word.
* On an :class:`~streaming_fargate.frames.InterruptionFrame` it sends ``clear``, drops whatever of
  the interrupted utterances is still to come (they are marked cancelled upstream, so no audio of
  theirs is sent after the ``clear``), writes the agent's transcript segment truncated to what was
  heard with ``interrupted: true``, and reports it upstream (:class:`SpokenFrame`).
* With a :class:`~.recording.CallRecorder`, each frame is also recorded where it plays, and a
  ``clear`` cuts the recording where the caller stopped hearing.
* The agent "speaks" (:class:`BotStartedSpeakingFrame` upstream) from an utterance's first frame
  until all of it was heard; :class:`EndCallFrame` hangs up (or transfers the call) once that is so.

An agent segment is written when the utterance's text is complete (with its expected end), and
updated if a barge-in then cuts it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, Protocol

from callingbox.core.media.mulaw import FRAME_BYTES, SAMPLE_RATE, SILENCE_BYTE
from callingbox.core.media.protocol import clear_message, mark_message, media_message

from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndCallFrame,
    Frame,
    InterruptionFrame,
    MarkEchoFrame,
    SpokenFrame,
    TtsAudioFrame,
    TtsChunkEndFrame,
    Utterance,
    UtteranceEndFrame,
)
from ..pipeline import UP, CallContext, Direction, Processor, cancel_and_wait
from .recording import CallRecorder

__all__ = ["Playout", "TranscriptSink", "MARK_ECHO_GRACE_S", "PLAYOUT_LEAD_S"]

# A chunk whose mark has not come back this long after its audio should have finished playing is
# taken as heard: a client that never echoes marks must not leave the agent "speaking" forever.
MARK_ECHO_GRACE_S = 1.5
# Audio sent ahead of playback: far more than a chunk's synthesis takes to start (~100-300 ms), so
# the line never runs dry, and little enough that Twilio and the socket never hold much.
PLAYOUT_LEAD_S = 2.0
# Once ahead by the lead, wait until this much of it has played, then send again (a few wake-ups
# per second instead of one per frame).
PLAYOUT_REFILL_S = 0.5


class TranscriptSink(Protocol):
    """Where agent segments go (the conversation's transcript log)."""

    def append(self, party: str, text: str, start_ms: int, end_ms: int, interrupted: bool = False) -> int:
        """Queue a new segment; returns its ``seq``."""

    def update(self, seq: int, *, text: Optional[str] = None, end_ms: Optional[int] = None,
               interrupted: Optional[bool] = None) -> None:
        """Queue a change to segment ``seq``."""


@dataclass(eq=False)
class _Chunk:
    """Audio of one chunk that went out and has not been heard in full yet."""

    utterance: Utterance
    index: int
    starts_at: float
    sent_bytes: int = 0
    ends_at: Optional[float] = None  # known once the chunk is closed (its mark sent)
    mark: Optional[str] = None


@dataclass(eq=False)
class _Speaking:
    """One utterance with audio out."""

    utterance: Utterance
    first_audio_at: float
    heard_chunks: int = 0
    complete: bool = False
    seq: Optional[int] = None


class Playout(Processor):
    """Sends audio and marks; tracks what was heard; ``clear`` on barge-in."""

    def __init__(self, *, send: Callable[[str], Awaitable[None]], stream_sid: str, ctx: CallContext,
                 transcript: Optional[TranscriptSink] = None, recorder: Optional[CallRecorder] = None) -> None:
        super().__init__()
        self._recorder = recorder
        self._send = send
        self._sid = stream_sid
        self._ctx = ctx
        self._transcript = transcript
        self._chunks: deque[_Chunk] = deque()
        self._speaking: dict[int, _Speaking] = {}
        self._remainder = b""
        self._play_end = 0.0  # when everything sent so far will have played (our estimate)
        self._last_echo_at = 0.0
        self._bot_speaking = False
        self._end_call: Optional[EndCallFrame] = None
        self._overdue: Optional[asyncio.TimerHandle] = None
        self._overdue_task: Optional[asyncio.Task[None]] = None
        self.frames_sent = 0

    async def stop(self) -> None:
        if self._overdue is not None:
            self._overdue.cancel()
        await cancel_and_wait(self._overdue_task)
        self._record_cut(self._ctx.clock())

    def _record_cut(self, now: float) -> None:
        """The call ended while the agent spoke: keep in the transcript what had been heard."""
        for speaking in self._speaking.values():
            chunks = speaking.utterance.chunks
            if speaking.complete and speaking.heard_chunks >= len(chunks):
                continue
            self._write_heard(speaking, self._heard_text(speaking, now), now)
        self._speaking.clear()

    def _write_heard(self, speaking: _Speaking, heard: list[str], now: float) -> None:
        if self._transcript is None:
            return
        text, end_ms = " ".join(heard), self._ctx.offset_ms(now)
        if speaking.seq is not None:
            self._transcript.update(speaking.seq, text=text, end_ms=end_ms, interrupted=True)
        else:
            self._transcript.append("agent", text, self._ctx.offset_ms(speaking.first_audio_at), end_ms, True)

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if direction is UP:
            await self.push(frame, direction)
        elif isinstance(frame, TtsAudioFrame):
            await self._on_audio(frame)
        elif isinstance(frame, TtsChunkEndFrame):
            await self._on_chunk_end(frame)
        elif isinstance(frame, MarkEchoFrame):
            await self._on_mark(frame.name, frame.at)
        elif isinstance(frame, UtteranceEndFrame):
            await self._on_utterance_end(frame.utterance)
        elif isinstance(frame, InterruptionFrame):
            await self._on_interruption()
        elif isinstance(frame, EndCallFrame):
            self._end_call = frame
            if not frame.after_speech or not (self._chunks or self._speaking):
                self._finish_call()
        # anything else ends here: this is the last stage

    # -- audio out -----------------------------------------------------------------------------

    async def _on_audio(self, frame: TtsAudioFrame) -> None:
        utterance = frame.utterance
        if utterance.cancelled:
            return
        now = self._ctx.clock()
        if utterance.id not in self._speaking:
            self._speaking[utterance.id] = _Speaking(utterance, now)
            if utterance.timings is not None:
                utterance.timings.first_audio_at = now
                self._ctx.record_latency(utterance.timings)
            self._bot_speaking = True
            await self.push(BotStartedSpeakingFrame(utterance, now), UP)
        chunk = self._chunks[-1] if self._chunks else None
        if chunk is None or chunk.utterance is not utterance or chunk.index != frame.index or chunk.mark is not None:
            chunk = _Chunk(utterance, frame.index, max(now, self._play_end))
            self._chunks.append(chunk)
        data = self._remainder + frame.audio
        whole = len(data) - len(data) % FRAME_BYTES
        self._remainder = data[whole:]
        await self._send_frames(chunk, data, whole)

    async def _send_frames(self, chunk: _Chunk, data: bytes, length: int) -> None:
        send, sid, clock = self._send, self._sid, self._ctx.clock
        for start in range(0, length, FRAME_BYTES):
            ahead = self._play_end - clock()
            if ahead > PLAYOUT_LEAD_S:
                await asyncio.sleep(ahead - PLAYOUT_LEAD_S + PLAYOUT_REFILL_S)
            if chunk.utterance.cancelled:
                return  # interrupted while waiting: nothing more of it goes out
            audio = data[start:start + FRAME_BYTES]
            await send(media_message(sid, audio))
            plays_at = max(self._play_end, clock())
            if self._recorder is not None:
                self._recorder.agent_audio(audio, plays_at)
            chunk.sent_bytes += FRAME_BYTES
            self._play_end = plays_at + FRAME_BYTES / SAMPLE_RATE
            self.frames_sent += 1

    async def _on_chunk_end(self, frame: TtsChunkEndFrame) -> None:
        if frame.utterance.cancelled:
            return
        chunk = self._chunks[-1] if self._chunks else None
        if chunk is None or chunk.utterance is not frame.utterance or chunk.index != frame.index:
            return  # the chunk produced no audio at all
        if self._remainder:
            padded, self._remainder = self._remainder.ljust(FRAME_BYTES, SILENCE_BYTE), b""
            await self._send_frames(chunk, padded, FRAME_BYTES)
            if frame.utterance.cancelled:
                return
        chunk.ends_at = max(chunk.starts_at + chunk.sent_bytes / SAMPLE_RATE, self._play_end)
        chunk.mark = f"{frame.utterance.id}.{frame.index}"
        await self._send(mark_message(self._sid, chunk.mark))
        self._watch_overdue()

    async def _on_utterance_end(self, utterance: Utterance) -> None:
        speaking = self._speaking.get(utterance.id)
        if speaking is None or utterance.cancelled:
            return
        speaking.complete = True
        if self._transcript is not None:
            speaking.seq = self._transcript.append(
                "agent", utterance.text, self._ctx.offset_ms(speaking.first_audio_at),
                self._ctx.offset_ms(max(self._play_end, speaking.first_audio_at)))
        await self._settle()

    # -- what was heard ------------------------------------------------------------------------

    async def _on_mark(self, name: str, at: float) -> None:
        if not any(chunk.mark == name for chunk in self._chunks):
            return  # a mark of audio already cleared or already taken as heard
        while self._chunks:
            chunk = self._chunks.popleft()
            self._heard(chunk)
            if chunk.mark == name:
                break
        self._last_echo_at = at
        late = at - (chunk.ends_at or at)
        if late > 0:  # the caller's playout runs behind our estimate: shift what is still queued
            for queued in self._chunks:
                queued.starts_at += late
                if queued.ends_at is not None:
                    queued.ends_at += late
            self._play_end += late
        await self._settle()

    def _heard(self, chunk: _Chunk) -> None:
        speaking = self._speaking.get(chunk.utterance.id)
        if speaking is not None:
            speaking.heard_chunks = max(speaking.heard_chunks, chunk.index + 1)

    async def _settle(self) -> None:
        """Finish utterances heard in full; report the agent silent once nothing is left to hear."""
        if self._chunks or self._remainder:
            return
        for key, speaking in list(self._speaking.items()):
            if speaking.complete:
                del self._speaking[key]
                await self.push(SpokenFrame(speaking.utterance, list(speaking.utterance.chunks), False), UP)
        if not self._speaking:
            if self._bot_speaking:
                self._bot_speaking = False
                await self.push(BotStoppedSpeakingFrame(self._ctx.clock()), UP)
            if self._end_call is not None:
                self._finish_call()

    def _finish_call(self) -> None:
        """Carry out the pending :class:`EndCallFrame`: a transfer, or a hang-up."""
        frame = self._end_call
        if frame is None:
            return
        if frame.transfer_to:
            self._ctx.transfer(frame.transfer_to)
        else:
            self._ctx.hang_up(frame.reason)

    async def _on_interruption(self) -> None:
        if not (self._chunks or self._speaking or self._remainder):
            return
        now = self._ctx.clock()
        await self._send(clear_message(self._sid))
        if self._recorder is not None:
            self._recorder.cut(now)
        for speaking in self._speaking.values():
            heard = self._heard_text(speaking, now)
            self._write_heard(speaking, heard, now)
            speaking.utterance.cancelled = True
            await self.push(SpokenFrame(speaking.utterance, heard, True), UP)
        self._speaking.clear()
        self._chunks.clear()
        self._remainder = b""
        self._play_end = now
        if self._bot_speaking:
            self._bot_speaking = False
            await self.push(BotStoppedSpeakingFrame(now), UP)
        if self._end_call is not None:
            self._finish_call()

    def _heard_text(self, speaking: _Speaking, now: float) -> list[str]:
        chunks = speaking.utterance.chunks
        heard = list(chunks[: speaking.heard_chunks])
        playing = next((chunk for chunk in self._chunks if chunk.utterance is speaking.utterance), None)
        if playing is not None and playing.index == speaking.heard_chunks and playing.index < len(chunks):
            duration = playing.sent_bytes / SAMPLE_RATE
            started = max(playing.starts_at, self._last_echo_at)
            fraction = min(1.0, max(0.0, (now - started) / duration)) if duration > 0 else 0.0
            words = chunks[playing.index].split()
            cut = int(fraction * len(words))
            if cut:
                heard.append(" ".join(words[:cut]))
        return heard

    # -- marks that never come back ------------------------------------------------------------

    def _watch_overdue(self) -> None:
        closed = [chunk.ends_at for chunk in self._chunks if chunk.ends_at is not None]
        if self._overdue is not None or not closed:
            return
        delay = max(0.0, closed[0] + MARK_ECHO_GRACE_S - self._ctx.clock())
        self._overdue = asyncio.get_running_loop().call_later(delay, self._on_overdue)

    def _on_overdue(self) -> None:
        self._overdue = None
        self._overdue_task = asyncio.get_running_loop().create_task(self._take_overdue_as_heard(),
                                                                    name="playout-overdue")

    async def _take_overdue_as_heard(self) -> None:
        now = self._ctx.clock()
        while self._chunks and self._chunks[0].ends_at is not None \
                and self._chunks[0].ends_at + MARK_ECHO_GRACE_S <= now:
            self._heard(self._chunks.popleft())
        await self._settle()
        self._watch_overdue()
