"""The far end's mouth and ears: offline speech synthesis, the voicemail beep, and turn taking.

Speech comes from the project's local TTS (espeak-ng via ``streaming_fargate.engines.local_tts``),
imported on first use so that the REST side of the carrier starts without it. When it cannot be
imported the voice falls back to a buzz as long as the words would take, so that calls still carry
speech-like audio. :class:`AgentEar` watches what the far end's speaker played
(:attr:`MediaStreamsClient.heard`) to tell when the agent is talking.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Optional

from callingbox.core.media.mulaw import SAMPLE_RATE, pcm16_to_ulaw, rms, ulaw_to_pcm16

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.media.client import MediaStreamsClient

__all__ = ["Voice", "beep_ulaw", "tone_ulaw", "AgentEar", "SPEECH_RMS"]

logger = logging.getLogger(__name__)

SPEECH_RMS = 300
"""PCM level (0–32767) above which a played frame counts as the agent speaking (μ-law silence is 0)."""
_POLL_S = 0.03
_CACHE_SIZE = 256


def tone_ulaw(duration_s: float, frequency_hz: float = 1000.0, amplitude: int = 8000) -> bytes:
    """A sine tone as 8 kHz μ-law."""
    count = int(duration_s * SAMPLE_RATE)
    step = 2 * math.pi * frequency_hz / SAMPLE_RATE
    pcm = struct.pack(f"<{count}h", *(int(amplitude * math.sin(step * i)) for i in range(count)))
    return pcm16_to_ulaw(pcm)


def beep_ulaw(duration_s: float = 0.5) -> bytes:
    """The answering machine's 1 kHz beep."""
    return tone_ulaw(duration_s, 1000.0)


class Voice:
    """Synthesizes a speaker's lines to μ-law off the event loop, caching repeated lines."""

    def __init__(self, voice: Optional[str] = None) -> None:
        self._voice = voice
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    async def say(self, text: str) -> bytes:
        """``text`` as 8 kHz μ-law (at least one frame)."""
        cached = self._cache.get(text)
        if cached is None:
            cached = await asyncio.to_thread(self._synthesize, text)
            self._cache[text] = cached
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return cached

    def _synthesize(self, text: str) -> bytes:
        try:
            from streaming_fargate.engines.local_tts import CALLER_VOICE, synthesize_ulaw
        except ImportError as error:  # the voice extra is not installed
            logger.warning("local TTS unavailable (%s): the callee speaks in tones", error)
            return _buzz(text)
        audio = synthesize_ulaw(text, voice=self._voice or "en-us")
        return audio or _buzz(text)


def _buzz(text: str) -> bytes:
    # About 70 ms per character, like speech; a low buzz is loud enough for any voice detector.
    return tone_ulaw(max(0.3, 0.07 * len(text)), 180.0, 6000)


class AgentEar:
    """What the far end heard from the gateway on one stream, read for turn taking.

    A played frame louder than :data:`SPEECH_RMS` is speech; the agent is silent since the end of
    the last such frame. Frames are scanned incrementally, so a poll costs only the new frames.
    """

    def __init__(self, client: "MediaStreamsClient") -> None:
        self._client = client
        self._scanned = 0
        self.last_speech_end = 0.0
        """``time.monotonic()`` when the last heard speech finished playing (0 before any)."""

    def _scan(self) -> None:
        heard = self._client.heard
        for frame in heard[self._scanned:]:
            if frame.audio and rms(ulaw_to_pcm16(frame.audio)) > SPEECH_RMS:
                self.last_speech_end = max(self.last_speech_end, frame.at + len(frame.audio) / SAMPLE_RATE)
        self._scanned = len(heard)

    def speaking(self, *, now: Optional[float] = None) -> bool:
        """True while heard speech is playing."""
        self._scan()
        return self.last_speech_end > (time.monotonic() if now is None else now)

    def silent_for(self) -> float:
        """Seconds since the agent's last speech finished playing (inf before any)."""
        self._scan()
        return math.inf if self.last_speech_end == 0 else time.monotonic() - self.last_speech_end

    async def wait_for_speech(self, *, after: float, timeout: float) -> bool:
        """Wait until speech plays after ``after`` (monotonic); False on timeout or when the stream ends."""
        deadline = time.monotonic() + timeout
        while True:
            self._scan()
            if self.last_speech_end > after:
                return True
            if self._client.closed.is_set() or time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_POLL_S)

    async def wait_for_silence(self, gap_s: float, *, since: Optional[float] = None) -> bool:
        """Wait until the agent has been silent for ``gap_s`` (counting from ``since`` at the earliest).

        False when the stream ended first.
        """
        while True:
            self._scan()
            quiet_from = max(self.last_speech_end, since or 0.0)
            remaining = quiet_from + gap_s - time.monotonic()
            if remaining <= 0:
                return True
            if self._client.closed.is_set():
                return False
            await asyncio.sleep(min(_POLL_S, remaining))
