"""DTMF tones as μ-law 8 kHz audio, for the ``send_dtmf`` tool (getting through a phone menu).

Each key is the sum of its row and column frequencies (ITU-T Q.23) for :data:`TONE_MS`, then
:data:`GAP_MS` of silence, so that repeated keys ("11") are heard as two presses. ``w`` waits
half a second and ``W`` a whole second (as in Twilio's ``sendDigits`` and Asterisk's
``SendDTMF``), for menus that need time between entries.

The tones go out in-band, through the call's normal playout (marks, ``clear``): a menu listening
for DTMF hears them as a keypad's. Each key's audio is built once per process (a Python loop over
800 samples, then G.711 in C); a call only joins cached bytes.
"""

from __future__ import annotations

import math
import re
from array import array
from functools import lru_cache

from callingbox.core.media import mulaw
from callingbox.core.media.mulaw import SAMPLE_RATE, SILENCE_BYTE

__all__ = ["DIGITS_PATTERN", "MAX_DIGITS", "TONE_MS", "GAP_MS", "PAUSES_MS", "FREQUENCIES", "valid_digits",
           "dtmf_audio", "key_audio"]

MAX_DIGITS = 32
DIGITS_PATTERN = rf"^[0-9*#wW]{{1,{MAX_DIGITS}}}$"
_DIGITS = re.compile(DIGITS_PATTERN)
# Q.24 asks receivers to accept tones of 40 ms and pauses of 40 ms; these leave room for the
# codec and jitter of a phone line.
TONE_MS = 100
GAP_MS = 70
PAUSES_MS = {"w": 500, "W": 1000}
# (row, column) in Hz for every key of the keypad.
FREQUENCIES: dict[str, tuple[int, int]] = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477),
}
# Each of the two sines peaks at about -9 dBFS: together they stay below full scale, and loud
# enough for any detector (telephone DTMF is sent at roughly -6 to -10 dBm0 per tone).
_AMPLITUDE = 0.35 * 32767


def valid_digits(digits: str) -> bool:
    """True for 1 to :data:`MAX_DIGITS` keys from ``0-9 * # w W``."""
    return bool(_DIGITS.fullmatch(digits))


@lru_cache(maxsize=None)
def key_audio(key: str) -> bytes:
    """μ-law audio of one key: its tone then the gap, or the pause of ``w`` / ``W``."""
    if key in PAUSES_MS:
        return SILENCE_BYTE * (SAMPLE_RATE * PAUSES_MS[key] // 1000)
    low, high = FREQUENCIES[key]
    count = SAMPLE_RATE * TONE_MS // 1000
    step_low, step_high = 2 * math.pi * low / SAMPLE_RATE, 2 * math.pi * high / SAMPLE_RATE
    samples = array("h", (round(_AMPLITUDE * (math.sin(step_low * n) + math.sin(step_high * n))) for n in range(count)))
    return mulaw.pcm16_to_ulaw(samples.tobytes()) + SILENCE_BYTE * (SAMPLE_RATE * GAP_MS // 1000)


def dtmf_audio(digits: str) -> bytes:
    """μ-law audio of ``digits`` (checked with :func:`valid_digits`; ``ValueError`` otherwise)."""
    if not valid_digits(digits):
        raise ValueError(f"digits must be 1 to {MAX_DIGITS} of 0-9, *, #, w and W")
    return b"".join(key_audio(key) for key in digits)
