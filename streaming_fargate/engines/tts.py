"""The text-to-speech port: audio straight in the carrier's format (8 kHz μ-law), no transcoding."""

from __future__ import annotations

import abc
from typing import AsyncIterator

__all__ = ["TextToSpeech"]


class TextToSpeech(abc.ABC):
    """Synthesizes one chunk of text (a sentence or clause) at a time."""

    @abc.abstractmethod
    def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        """μ-law 8 kHz mono audio as it is produced; cancelling the iterator stops synthesis."""
