"""Barge-in: caller speech over the agent, strong enough, interrupts it; backchannels do not.

The rule (``t`` is the agent's ``interruption_threshold``, 0–1, default 0.5)::

    a run of caller speech interrupts the agent once, while the agent's audio is playing,
        voiced audio in the run  >= 100 + 200·t ms          (t = 0.5: 200 ms)
        mean RMS of those frames >= speech_rms · (1 + 3·t)  (t = 0.5: 2.5× the VAD floor ≈ -30 dBFS)

A *run* is voiced 20 ms frames with gaps shorter than the VAD's stop window (100 ms); voiced means
RMS at or above the VAD floor (``TurnTaking.speech_rms``). At the default the interruption fires on
the tenth voiced frame, about 180 ms after speech onset, and playout's ``clear`` follows at once.
``t = 0`` interrupts on 100 ms of any speech; ``t = 1`` needs 300 ms at -24 dBFS or louder.

A short or quiet run ("uh-huh", "mm") that ends while the agent is still speaking is a backchannel:
this stage reports its span (:class:`~streaming_fargate.frames.BackchannelFrame`) so that
endpointing discards its transcript instead of starting a turn. A run that outlasts the agent's
speech is a turn like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..frames import (
    BackchannelFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CallerAudioFrame,
    Frame,
    InterruptionFrame,
)
from ..pipeline import Direction, Processor
from .vad import STOP_MS

__all__ = ["InterruptionRule", "interruption_rule", "BargeIn"]

_FRAME_MS = 20


@dataclass(frozen=True)
class InterruptionRule:
    """How much caller speech over the agent interrupts it."""

    min_voiced_ms: int
    min_mean_rms: float


def interruption_rule(threshold: float, *, speech_rms: int) -> InterruptionRule:
    """The rule for ``interruption_threshold`` ``threshold`` (clamped to 0–1); see the module docstring."""
    t = min(1.0, max(0.0, float(threshold)))
    return InterruptionRule(min_voiced_ms=round(100 + 200 * t), min_mean_rms=speech_rms * (1 + 3 * t))


class BargeIn(Processor):
    """Pushes one :class:`InterruptionFrame` per qualifying run; consumes the caller audio."""

    def __init__(self, *, threshold: float, speech_rms: int) -> None:
        super().__init__()
        self.rule = interruption_rule(threshold, speech_rms=speech_rms)
        self._floor = speech_rms
        self._bot_speaking = False
        self._in_run = False
        self._voiced_frames = 0
        self._rms_sum = 0
        self._run_start_ms = 0
        self._last_voice_end_ms = 0
        self._overlapped = False
        self._fired = False

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, CallerAudioFrame):
            await self._on_audio(frame)
            return  # nothing further down needs the audio itself
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        await self.push(frame, direction)

    async def _on_audio(self, frame: CallerAudioFrame) -> None:
        if frame.rms >= self._floor:
            if not self._in_run:
                self._in_run, self._fired, self._overlapped = True, False, False
                self._voiced_frames, self._rms_sum, self._run_start_ms = 0, 0, frame.offset_ms
            self._voiced_frames += 1
            self._rms_sum += frame.rms
            self._last_voice_end_ms = frame.offset_ms + _FRAME_MS
            if self._bot_speaking:
                self._overlapped = True
                if (not self._fired and self._voiced_frames * _FRAME_MS >= self.rule.min_voiced_ms
                        and self._rms_sum >= self.rule.min_mean_rms * self._voiced_frames):
                    self._fired = True
                    await self.push(InterruptionFrame(frame.at))
        elif self._in_run and frame.offset_ms + _FRAME_MS - self._last_voice_end_ms >= STOP_MS:
            self._in_run = False
            if self._overlapped and not self._fired and self._bot_speaking:
                await self.push(BackchannelFrame(self._run_start_ms, self._last_voice_end_ms))
