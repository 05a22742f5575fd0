"""Who answers a number in the local phone network: the test-number table and callee scripts.

Every destination number has a :class:`CalleeScript`: a behaviour (see :data:`BEHAVIOURS`) and, for
people, the lines they say. The table :data:`TEST_NUMBERS` fixes the behaviour of six reserved
numbers; any other number is a human with :data:`DEFAULT_HUMAN_LINES`. :class:`CalleeDirectory`
lets tests and developers script a number at runtime (``POST /local/callees``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal, Mapping, Optional, Sequence, get_args

__all__ = [
    "Behaviour",
    "BEHAVIOURS",
    "TEST_NUMBERS",
    "CalleeScript",
    "CalleeDirectory",
    "DEFAULT_HUMAN_LINES",
    "DEFAULT_CALLER_LINES",
    "DEFAULT_VOICEMAIL_GREETING",
    "E164",
    "is_e164",
]

Behaviour = Literal["human", "voicemail", "busy", "no_answer", "failed", "hangup"]
"""What the far end does when the network rings it.

* ``human`` — answers after the answer delay and speaks its lines, taking turns with the agent.
* ``voicemail`` — answers, plays a greeting then a 1 kHz beep, records until silence, hangs up.
* ``busy`` — the line is busy (``CallStatus=busy``).
* ``no_answer`` — rings until the ring timeout (``CallStatus=no-answer``).
* ``failed`` — the network cannot reach the number (``CallStatus=failed``).
* ``hangup`` — answers and hangs up at once, without media (benchmarks).
"""

BEHAVIOURS: tuple[str, ...] = get_args(Behaviour)

TEST_NUMBERS: Mapping[str, Behaviour] = {
    "+15550100001": "human",
    "+15550100002": "voicemail",
    "+15550100003": "busy",
    "+15550100004": "no_answer",
    "+15550100005": "failed",
    "+15550100006": "hangup",
}
"""Reserved destination numbers (555-01xx is fictional) and how they answer; others are ``human``."""

# Short answers the offline recogniser and the builtin dialogue both handle (yes to the question, yes
# to the read-back), so an unscripted call runs to its end.
DEFAULT_HUMAN_LINES: tuple[str, ...] = ("Hello?", "Yes.", "Yes.")
"""What a called human says when nobody scripted the number (the first line on answering)."""

DEFAULT_CALLER_LINES: tuple[str, ...] = ("Hi, I am calling about my appointment.", "Yes, please.",
                                         "Thank you. Goodbye.")
"""What a simulated inbound caller says when :meth:`ring` gets no lines (after the agent's greeting)."""

DEFAULT_VOICEMAIL_GREETING = "Hi, you've reached Alex. Please leave a message after the tone."

E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def is_e164(value: object) -> bool:
    """True for a string such as ``+14155550100``."""
    return isinstance(value, str) and bool(E164.match(value))


@dataclass(frozen=True)
class CalleeScript:
    """How one number behaves when rung, and what its person says.

    ``lines`` are spoken one per turn; with ``speaks_first`` the first line is said on answering
    (as people say "Hello?"), otherwise the callee waits for the agent to speak first.
    ``answer_delay_s`` and ``idle_hangup_s`` override the network's timing for this number;
    ``greeting`` is a voicemail's announcement.
    """

    behaviour: Behaviour = "human"
    lines: tuple[str, ...] = DEFAULT_HUMAN_LINES
    speaks_first: bool = True
    answer_delay_s: Optional[float] = None
    idle_hangup_s: Optional[float] = None
    greeting: str = DEFAULT_VOICEMAIL_GREETING

    def as_json(self, number: str) -> dict[str, object]:
        """The ``/local/callees`` shape of this script."""
        return {"number": number, "behaviour": self.behaviour, "lines": list(self.lines),
                "speaks_first": self.speaks_first, "answer_delay_s": self.answer_delay_s,
                "idle_hangup_s": self.idle_hangup_s, "greeting": self.greeting}


@dataclass
class CalleeDirectory:
    """The script of every number: runtime overrides first, then :data:`TEST_NUMBERS`, then human."""

    overrides: dict[str, CalleeScript] = field(default_factory=dict)

    def lookup(self, number: str) -> CalleeScript:
        """The script that answers ``number``."""
        if number in self.overrides:
            return self.overrides[number]
        return CalleeScript(behaviour=TEST_NUMBERS.get(number, "human"))

    def set(self, number: str, *, behaviour: Optional[str] = None, lines: Optional[Sequence[str]] = None,
            speaks_first: Optional[bool] = None, answer_delay_s: Optional[float] = None,
            idle_hangup_s: Optional[float] = None, greeting: Optional[str] = None) -> CalleeScript:
        """Script ``number``; unset fields keep the number's current script. Raises ``ValueError``."""
        if not is_e164(number):
            raise ValueError(f"number must be E.164 (+14155550100), not {number!r}")
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}, not {behaviour!r}")
        if lines is not None and (isinstance(lines, str) or not all(isinstance(line, str) for line in lines)):
            raise ValueError("lines must be a list of strings")
        for name, value in (("answer_delay_s", answer_delay_s), ("idle_hangup_s", idle_hangup_s)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{name} must be a number of seconds >= 0")
        current = self.lookup(number)
        changes: dict[str, object] = {}
        if behaviour is not None:
            changes["behaviour"] = behaviour
        if lines is not None:
            changes["lines"] = tuple(lines)
        if speaks_first is not None:
            changes["speaks_first"] = bool(speaks_first)
        if answer_delay_s is not None:
            changes["answer_delay_s"] = float(answer_delay_s)
        if idle_hangup_s is not None:
            changes["idle_hangup_s"] = float(idle_hangup_s)
        if greeting is not None:
            changes["greeting"] = greeting
        script = replace(current, **changes)  # type: ignore[arg-type]
        self.overrides[number] = script
        return script

    def reset(self, number: str) -> bool:
        """Forget the override of ``number``; True when there was one."""
        return self.overrides.pop(number, None) is not None
