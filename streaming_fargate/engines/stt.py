"""The speech-to-text port: a streaming session per call.

Audio in is 16-bit little-endian mono PCM at 8 kHz (decoded from the carrier's μ-law once, at the
edge). Results out are partial and final hypotheses; partials carry ``stable`` when the engine
says their text will not change, which is what our own endpointing acts on (we never wait for
the provider's final result to end a turn).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import AsyncIterator

__all__ = ["Transcript", "SpeechToText", "SttSession", "SAMPLE_RATE"]

SAMPLE_RATE = 8000


@dataclass(frozen=True)
class Transcript:
    """One hypothesis of what the caller said in the current utterance.

    ``start_ms``/``end_ms`` are offsets from the session's first audio byte.
    """

    text: str
    is_final: bool
    stable: bool
    start_ms: int
    end_ms: int


class SttSession(abc.ABC):
    """One open recognition stream."""

    @abc.abstractmethod
    async def send_audio(self, pcm16: bytes) -> None:
        """Feed audio; must not block the event loop (engines offload CPU work)."""

    @abc.abstractmethod
    def results(self) -> AsyncIterator[Transcript]:
        """Hypotheses as they come; ends after :meth:`close`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and end the stream."""


class SpeechToText(abc.ABC):
    """Opens recognition sessions."""

    @abc.abstractmethod
    async def open(self, *, language: str, hints: tuple[str, ...] = ()) -> SttSession:
        """A new session; ``hints`` are words or phrases the caller is likely to say."""
