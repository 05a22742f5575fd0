"""Energy voice-activity detection on the caller's decoded audio.

Each :class:`~streaming_fargate.frames.CallerAudioFrame` arrives with its RMS already computed at
the edge (``audioop.rms``, in C); this stage only compares numbers. A frame whose RMS reaches the
floor is *voiced*. The caller starts speaking after :data:`ONSET_FRAMES` voiced frames in a row and
stops after :data:`STOP_MS` of unvoiced audio (on the stream's clock, so network jitter does not
move it). The frames pass on unchanged.
"""

from __future__ import annotations

from ..frames import CallerAudioFrame, Frame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame
from ..pipeline import Direction, Processor

__all__ = ["VoiceActivity", "ONSET_FRAMES", "STOP_MS"]

# 40 ms of voiced audio before it counts as speech: a click or a line pop is a single frame.
ONSET_FRAMES = 2
# Unvoiced audio that ends a stretch of speech. The gaps inside words and between them are
# shorter; the end of a *turn* is endpointing's decision, with its own, longer window.
STOP_MS = 100
_FRAME_MS = 20


class VoiceActivity(Processor):
    """Emits :class:`UserStartedSpeakingFrame` / :class:`UserStoppedSpeakingFrame` around speech."""

    def __init__(self, *, speech_rms: int) -> None:
        super().__init__()
        self.speech_rms = speech_rms
        self.speaking = False
        self._run = 0
        self._run_start = (0.0, 0)
        self._last_voice = (0.0, 0)

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, CallerAudioFrame):
            if frame.rms >= self.speech_rms:
                if self._run == 0:
                    self._run_start = (frame.at, frame.offset_ms)
                self._run += 1
                self._last_voice = (frame.at, frame.offset_ms + _FRAME_MS)
                if not self.speaking and self._run >= ONSET_FRAMES:
                    self.speaking = True
                    await self.push(UserStartedSpeakingFrame(self._run_start[0], self._run_start[1]))
            elif not self.speaking:
                self._run = 0
            elif frame.offset_ms + _FRAME_MS - self._last_voice[1] >= STOP_MS:
                self.speaking = False
                self._run = 0
                await self.push(UserStoppedSpeakingFrame(frame.at, self._last_voice[0], self._last_voice[1]))
        await self.push(frame, direction)
