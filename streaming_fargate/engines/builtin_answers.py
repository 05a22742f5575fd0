"""Understanding a caller's answer for the builtin dialogue (yes/no, numbers, dates and times,
choices, free text and DTMF keys).

The rules live in :mod:`callingbox.core.answers`, because the builtin extractor (a Lambda, which
may not import this package) must read answers exactly as the dialogue understood them; this
module keeps the gateway's names working.
"""

from __future__ import annotations

from callingbox.core.answers import (
    choice,
    date,
    dtmf_digits,
    free_text,
    normalize,
    number,
    time_of_day,
    yes_no,
)

__all__ = ["dtmf_digits", "yes_no", "number", "date", "time_of_day", "choice", "free_text", "normalize"]
