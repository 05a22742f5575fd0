"""Our own end of turn: a stable hypothesis plus trailing silence; the recogniser's final is not awaited.

Rules, for the caller's turn being assembled (the finals of its segments plus the latest partial):

1. **Early start** (unless turned off). As soon as the hypothesis is *stable* (a final, or a
   partial the recogniser marks stable) and the caller is silent, a *speculative*
   :class:`UserTurnFrame` goes out: the model may start writing, but nothing is said or done until
   the turn is confirmed.
2. **End of turn.** Once the caller has been silent for ``silence_ms`` after the last voiced frame
   with a stable hypothesis, the turn is *confirmed*. A hypothesis that never becomes stable
   confirms after ``unstable_silence_ms``. Silence is measured from the arrival of the last voiced
   frame, on a timer, so it does not depend on more audio arriving.
3. **Caller keeps talking.** New words change the text: a new speculative turn replaces the old one
   (the model restarts on the longer text). Until the reply becomes audible the turn stays open,
   so speech after a confirmation extends the same turn, and a new confirmation follows the next
   silence (the turns stage restarts the reply if the text changed, or resumes it if not).
4. **The agent is speaking.** Hypotheses are held; an interruption releases them (the barge-in
   speech becomes the next turn), a backchannel span discards those inside it.
5. Once the reply is audible (:class:`TurnCommittedFrame`) the turn is closed; a late hypothesis
   of the same recogniser segment only counts for the words it adds beyond those already used
   (a recogniser may still revise a "stable" word: "yeah" -> "yes" starts no second turn).

Text comparisons ignore case and punctuation, so a final that only adds a full stop to a stable
partial changes nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict, deque
from typing import Optional

from ..frames import (
    BackchannelFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterruptionFrame,
    TranscriptFrame,
    TurnCommittedFrame,
    TurnTimings,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    UserTurnFrame,
)
from ..pipeline import CallContext, Direction, Processor, cancel_and_wait

__all__ = ["Endpointing", "normalize"]

# Backchannel spans remembered for discarding late transcripts (a few per minute at most).
_MAX_BACKCHANNELS = 16
# Recogniser segments remembered after their turn was committed, to discard their late revisions.
_MAX_SEGMENTS_REMEMBERED = 8
_WORDS = re.compile(r"[\w']+")


def normalize(text: str) -> str:
    """Lower-case words only: what decides whether a hypothesis changed."""
    return " ".join(_WORDS.findall(text.lower()))


def _strip_words(text: str, used: str) -> str:
    """``text`` without as many leading words as ``used`` had: a later hypothesis of a segment whose
    start already went to a turn only adds the words after it (even if it revised those)."""
    return " ".join(text.split()[len(used.split()):])


class Endpointing(Processor):
    """Turns hypotheses and voice activity into speculative and confirmed :class:`UserTurnFrame` s."""

    def __init__(self, *, silence_ms: int, unstable_silence_ms: int, ctx: CallContext,
                 early_start: bool = True) -> None:
        super().__init__()
        self.early_start = early_start
        self.silence_s = silence_ms / 1000
        self.unstable_silence_s = max(unstable_silence_ms, silence_ms) / 1000
        self._ctx = ctx
        self._turn = 1
        self._finals: list[tuple[int, str]] = []  # (segment start_ms, text) of the turn's final segments
        self._partial: Optional[TranscriptFrame] = None
        self._started_ms: Optional[int] = None
        self._speaking = False
        self._voice_in_turn = False
        self._last_voice_at = 0.0
        self._last_voice_ms = 0
        self._last_text_at = 0.0
        self._stt_final_at: Optional[float] = None
        self._bot_speaking = False
        self._held: list[TranscriptFrame] = []
        self._backchannels: deque[tuple[int, int]] = deque(maxlen=_MAX_BACKCHANNELS)
        # segment start_ms -> words already used by a committed turn (the last few segments)
        self._consumed: OrderedDict[int, str] = OrderedDict()
        self._speculated: Optional[str] = None
        self._confirmed = False
        self._timings: Optional[TurnTimings] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_task: Optional[asyncio.Task[None]] = None

    # -- frames --------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, TranscriptFrame):
            if self._bot_speaking:
                self._held.append(frame)
            else:
                await self._on_transcript(frame)
            return
        if isinstance(frame, UserStartedSpeakingFrame):
            # A new confirmation (with fresh timings) must follow this speech, even if it adds no words.
            self._speaking, self._confirmed, self._timings = True, False, None
            self._cancel_timer()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._speaking, self._voice_in_turn = False, True
            self._last_voice_at, self._last_voice_ms = frame.last_voice_at, frame.offset_ms
            await self.push(frame, direction)
            await self._evaluate()
            return
        elif isinstance(frame, BackchannelFrame):
            self._backchannels.append((frame.start_ms, frame.end_ms))
            self._held = [held for held in self._held if not self._in_backchannel(held)]
            return
        elif isinstance(frame, (InterruptionFrame, BotStoppedSpeakingFrame)):
            self._bot_speaking = False
            await self.push(frame, direction)
            await self._release_held()
            return
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, TurnCommittedFrame):
            self._commit(frame.turn)
            return
        await self.push(frame, direction)

    async def _release_held(self) -> None:
        held, self._held = self._held, []
        for frame in held:
            await self._on_transcript(frame)
        await self._evaluate()

    def _in_backchannel(self, frame: TranscriptFrame) -> bool:
        middle = (frame.start_ms + frame.end_ms) // 2
        return any(start - 100 <= middle <= end + 100 for start, end in self._backchannels)

    async def _on_transcript(self, frame: TranscriptFrame) -> None:
        if self._backchannels and self._in_backchannel(frame):
            return
        text = frame.text.strip()
        used = self._consumed.get(frame.start_ms)
        if used is not None:
            text = _strip_words(text, used)
        before = normalize(self._text())
        if frame.is_final:
            if text:
                self._finals.append((frame.start_ms, text))
            self._partial = None
            self._stt_final_at = frame.at
            if self._timings is not None and self._timings.stt_final_at is None and normalize(self._text()) == before:
                self._timings.stt_final_at = frame.at
        else:
            self._partial = TranscriptFrame(text, False, frame.stable, frame.start_ms, frame.end_ms, frame.at)
        if not text:
            return
        if self._started_ms is None:
            self._started_ms = frame.start_ms
        self._last_text_at = frame.at
        if normalize(self._text()) != before:
            self._speculated, self._confirmed, self._timings = None, False, None
        await self._evaluate()

    # -- the decision --------------------------------------------------------------------------

    def _text(self) -> str:
        parts = [text for _, text in self._finals]
        if self._partial is not None and self._partial.text:
            parts.append(self._partial.text)
        return " ".join(parts)

    def _stable(self) -> bool:
        return self._partial is None or not self._partial.text or self._partial.stable

    async def _evaluate(self) -> None:
        text = self._text()
        if self._bot_speaking or self._speaking or not text:
            return
        stable = self._stable()
        quiet_since = self._last_voice_at if self._voice_in_turn else self._last_text_at
        if self._timings is None:
            self._timings = TurnTimings(turn=self._turn, speech_ended_at=quiet_since,
                                        stt_final_at=self._stt_final_at if self._partial is None else None)
        if self.early_start and stable and self._speculated != normalize(text):
            self._speculated = normalize(text)
            await self.push(self._turn_frame(text, speculative=True))
        if self._confirmed:
            return
        due = quiet_since + (self.silence_s if stable else self.unstable_silence_s)
        now = self._ctx.clock()
        if now >= due:
            self._confirmed = True
            self._timings.endpoint_at = now
            await self.push(self._turn_frame(text, speculative=False))
        else:
            self._schedule(due - now)

    def _turn_frame(self, text: str, *, speculative: bool) -> UserTurnFrame:
        assert self._timings is not None
        started = self._started_ms if self._started_ms is not None else self._last_voice_ms
        return UserTurnFrame(self._turn, text, speculative, started, max(started, self._last_voice_ms), self._timings)

    def _commit(self, turn: int) -> None:
        """The reply to ``turn`` is audible: start assembling the next turn."""
        if turn != self._turn:
            return
        segments = list(self._finals)
        if self._partial is not None and self._partial.text:
            segments.append((self._partial.start_ms, self._partial.text))
        for start_ms, text in segments:
            self._consumed[start_ms] = f"{self._consumed.get(start_ms, '')} {text}".strip()
            self._consumed.move_to_end(start_ms)
        while len(self._consumed) > _MAX_SEGMENTS_REMEMBERED:
            self._consumed.popitem(last=False)
        self._turn += 1
        self._finals, self._partial, self._started_ms = [], None, None
        self._speculated, self._confirmed, self._timings, self._voice_in_turn = None, False, None, False
        self._stt_final_at = None
        self._cancel_timer()

    # -- the silence timer ---------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_task = asyncio.get_running_loop().create_task(self._evaluate(), name="endpointing-timer")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def stop(self) -> None:
        self._cancel_timer()
        await cancel_and_wait(self._timer_task)
