"""Both sides of a call as μ-law timelines on the stream's clock, for the two-channel recording.

The caller's side is every inbound frame in arrival order (Twilio sends 20 ms frames continuously
from the stream's start). The agent's side is its audio *as heard*: each frame is placed where it
plays (playout knows when that is), silence elsewhere, and a barge-in's ``clear`` cuts away what
had been sent ahead but never played. At hang-up the conversation hands both to
:func:`callingbox.core.recordings.write_recording` (unless the agent has ``record: false``).

About 16 KB a second per call is held in memory (the core module builds the file in memory too);
``max_duration_seconds`` bounds it.
"""

from __future__ import annotations

from callingbox.core.media.mulaw import SAMPLE_RATE, SILENCE_BYTE

__all__ = ["CallRecorder"]


class CallRecorder:
    """Accumulates the caller's and the agent's audio, aligned (byte ``i`` of both is the same instant)."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.caller = bytearray()
        self.agent = bytearray()

    def caller_audio(self, ulaw: bytes) -> None:
        """The next inbound frame."""
        self.caller += ulaw

    def agent_audio(self, ulaw: bytes, plays_at: float) -> None:
        """Agent audio that starts playing at ``plays_at`` (monotonic seconds)."""
        position = max(0, round((plays_at - self.origin) * SAMPLE_RATE))
        if position > len(self.agent):
            self.agent += SILENCE_BYTE * (position - len(self.agent))
        self.agent[position:position + len(ulaw)] = ulaw

    def cut(self, at: float) -> None:
        """A ``clear`` at ``at``: agent audio after it was never heard."""
        del self.agent[max(0, round((at - self.origin) * SAMPLE_RATE)):]
