"""Speakable chunks -> μ-law audio, one chunk at a time, in order.

A queued stage: chunks wait here while the one before is synthesized; a barge-in drops them and
cancels the synthesis in flight (see :class:`~streaming_fargate.pipeline.QueuedProcessor`). Chunks
that carry pre-synthesized audio (the cached greeting) skip the engine.
"""

from __future__ import annotations

from typing import Any

from ..engines.tts import TextToSpeech
from ..frames import Frame, TtsAudioFrame, TtsChunkEndFrame, TtsTextFrame
from ..pipeline import CallContext, Direction, QueuedProcessor

__all__ = ["SpeechSynthesis"]


class SpeechSynthesis(QueuedProcessor):
    """:class:`TtsTextFrame` -> :class:`TtsAudioFrame` s then a :class:`TtsChunkEndFrame`."""

    def __init__(self, tts: TextToSpeech, *, voice: str, language: str, ctx: CallContext) -> None:
        super().__init__()
        self._tts = tts
        self._voice = voice
        self._language = language
        self._ctx = ctx

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if not isinstance(frame, TtsTextFrame):
            await self.push(frame, direction)
            return
        utterance = frame.utterance
        if utterance.cancelled:
            return
        source: Any = frame.audio if frame.audio is not None else self._tts.synthesize(
            frame.text, voice=self._voice, language=self._language)
        first = True
        try:
            async for piece in source:
                if utterance.cancelled:
                    return
                if not piece:
                    continue
                if first:
                    first = False
                    if utterance.timings is not None and utterance.timings.tts_first_byte_at is None:
                        utterance.timings.tts_first_byte_at = self._ctx.clock()
                await self.push(TtsAudioFrame(utterance, frame.index, piece))
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:  # stop the engine's generator now, not whenever it is collected
                await close()
        await self.push(TtsChunkEndFrame(utterance, frame.index))

    def failed(self, error: Exception) -> None:
        self._ctx.fail("tts_failed", error)

