"""How fast the local phone network and its people are (one place for every delay)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Timing", "FAST_TIMING"]


@dataclass(frozen=True)
class Timing:
    """Delays of the simulated network, in seconds.

    The defaults feel like a phone call; benchmarks want ``answer_delay_s`` near 0, and tests shorten
    the idle and silence timeouts.
    """

    ring_delay_s: float = 0.05
    """From ``initiated`` to ``ringing`` (and to ``busy``/``failed``)."""
    answer_delay_s: float = 0.3
    """From ``ringing`` to the answer (a number's script may override it)."""
    first_line_delay_s: float = 0.4
    """From the media stream opening to a ``speaks_first`` callee's first line."""
    turn_gap_s: float = 0.7
    """The agent's silence that a callee waits for before speaking its next line."""
    reply_timeout_s: float = 6.0
    """How long a callee waits for the agent to say anything before speaking anyway."""
    idle_hangup_s: float = 10.0
    """After its last line, a callee hangs up when the agent has been silent this long."""
    linger_s: float = 30.0
    """After its last line, a callee hangs up after this long at the latest (an agent that keeps talking)."""
    amd_human_s: float = 1.0
    """Answering-machine detection reports ``human`` this long after a person answers."""
    beep_s: float = 0.5
    voicemail_silence_s: float = 3.0
    """A voicemail stops recording after this much silence following the beep or the message."""
    voicemail_max_s: float = 60.0
    dial_bridge_s: float = 1.0
    """How long a ``<Dial>``ed person talks before hanging up."""
    say_s_per_char: float = 0.06
    """``<Say>`` takes this long per character (at least half a second)."""
    webhook_timeout_s: float = 15.0


FAST_TIMING = Timing(ring_delay_s=0.0, answer_delay_s=0.0, first_line_delay_s=0.2, reply_timeout_s=3.0,
                     idle_hangup_s=3.0, linger_s=10.0, amd_human_s=0.5, voicemail_silence_s=3.0, dial_bridge_s=0.2)
"""Near-instant network for tests and benchmarks (turn taking keeps its realistic 0.7 s gap). The
mailbox keeps the realistic 3 s of silence too: after the redirect the gateway loads the call and
synthesizes the message's first sentence, which on a loaded machine took longer than 1 s, and the
machine then hung up on an empty recording."""
