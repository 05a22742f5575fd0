"""The call state machine: which status may follow which.

    queued ──► ringing ──► in_progress ──► completed
      │           │             │
      │           │             ├──► failed        (error:…, gateway lost)
      │           │             └──► no_answer     (a machine answered: voicemail)
      │           ├──► no_answer / busy / failed / canceled
      └──► in_progress / no_answer / busy / failed / canceled

Terminal statuses never change. A status only moves forward, so a late or duplicated carrier
callback (``ringing`` after ``in_progress``) is a no-op, never a step back. The store enforces
this with a conditional write whose condition is :func:`allowed_sources`.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

__all__ = [
    "CallStatus",
    "TERMINAL",
    "EVENT_FOR_STATUS",
    "can_transition",
    "allowed_sources",
    "is_terminal",
    "EndReason",
]


class CallStatus(str, Enum):
    """Every status a call can hold (API.md, Calls)."""

    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset(
    {CallStatus.COMPLETED, CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED}
)

_NEXT: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.QUEUED: frozenset(
        {CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.NO_ANSWER, CallStatus.BUSY,
         CallStatus.FAILED, CallStatus.CANCELED}
    ),
    CallStatus.RINGING: frozenset(
        {CallStatus.IN_PROGRESS, CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED}
    ),
    CallStatus.IN_PROGRESS: frozenset({CallStatus.COMPLETED, CallStatus.FAILED, CallStatus.NO_ANSWER}),
}

EVENT_FOR_STATUS: dict[CallStatus, str] = {
    CallStatus.QUEUED: "call.queued",
    CallStatus.RINGING: "call.ringing",
    CallStatus.IN_PROGRESS: "call.answered",
    CallStatus.NO_ANSWER: "call.no_answer",
    CallStatus.BUSY: "call.busy",
    CallStatus.FAILED: "call.failed",
    CallStatus.CANCELED: "call.canceled",
    # call.completed fires after post-call processing, not on the status change itself.
}


class EndReason(str, Enum):
    """Why a call ended; ``error:<detail>`` strings extend this set for failures."""

    CALLER_HANGUP = "caller_hangup"
    AGENT_HANGUP = "agent_hangup"
    API_HANGUP = "api_hangup"
    VOICEMAIL = "voicemail"
    MAX_DURATION = "max_duration"
    SILENCE = "silence"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELED = "canceled"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    GATEWAY_LOST = "error:gateway_lost"


def is_terminal(status: CallStatus | str) -> bool:
    """True when no further status change is possible."""
    return CallStatus(status) in TERMINAL


def can_transition(current: CallStatus | str, target: CallStatus | str) -> bool:
    """True when ``current`` may move to ``target``."""
    return CallStatus(target) in _NEXT.get(CallStatus(current), frozenset())


def allowed_sources(target: CallStatus | str) -> frozenset[CallStatus]:
    """Every status from which ``target`` may be reached: the condition of the status write."""
    wanted = CallStatus(target)
    return frozenset(source for source, targets in _NEXT.items() if wanted in targets)


def event_type(status: CallStatus | str) -> Optional[str]:
    """The event a move into ``status`` emits, if any."""
    return EVENT_FOR_STATUS.get(CallStatus(status))
