"""G.711 μ-law at 8 kHz, the carrier's audio format, in C (``audioop``), never in a Python loop."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 13):  # audioop left the standard library in 3.13; audioop-lts carries it on
    import audioop_lts as audioop  # type: ignore[import-not-found]  # pragma: no cover
else:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

__all__ = ["SAMPLE_RATE", "FRAME_MS", "FRAME_BYTES", "ulaw_to_pcm16", "pcm16_to_ulaw", "rms", "SILENCE_BYTE"]

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 μ-law bytes = 20 ms
SILENCE_BYTE = b"\xff"  # μ-law code for 0


def ulaw_to_pcm16(data: bytes) -> bytes:
    """μ-law bytes to 16-bit little-endian PCM."""
    return audioop.ulaw2lin(data, 2)


def pcm16_to_ulaw(data: bytes) -> bytes:
    """16-bit little-endian PCM to μ-law bytes."""
    return audioop.lin2ulaw(data, 2)


def rms(pcm16: bytes) -> int:
    """Root-mean-square level of 16-bit PCM (0–32767)."""
    return int(audioop.rms(pcm16, 2))


def resample_pcm16(data: bytes, from_rate: int, to_rate: int, state: object = None) -> tuple[bytes, object]:
    """Resample 16-bit mono PCM; pass the returned state back in for the next chunk of a stream."""
    converted, new_state = audioop.ratecv(data, 2, 1, from_rate, to_rate, state)
    return converted, new_state
