"""The dialer's shapes: the job it reads, the outcome it reports, the limits it obeys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from .exceptions import InvalidDialJob

__all__ = ["DialJob", "DialOutcome", "DialResult", "DialLimits"]


@dataclass(frozen=True)
class DialJob:
    """One message of the dial queue: the call to dial (see :func:`callingbox.core.calls.create_call`)."""

    workspace_id: str
    call_id: str

    @classmethod
    def from_body(cls, body: Optional[str]) -> "DialJob":
        """Parse a message body; :class:`InvalidDialJob` unless it is ``{"workspace_id", "call_id"}`` strings."""
        try:
            data: Any = json.loads(body or "")
        except ValueError:
            raise InvalidDialJob("the dial job is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidDialJob("the dial job must be a JSON object")
        workspace_id, call_id = data.get("workspace_id"), data.get("call_id")
        if not isinstance(workspace_id, str) or not isinstance(call_id, str) or not workspace_id or not call_id:
            raise InvalidDialJob('the dial job must be {"workspace_id": str, "call_id": str}')
        return cls(workspace_id, call_id)

    def body(self) -> dict[str, str]:
        """The message body to send."""
        return {"workspace_id": self.workspace_id, "call_id": self.call_id}


class DialOutcome(str, Enum):
    """What one job did."""

    DIALED = "dialed"          # the carrier took the call
    SKIPPED = "skipped"        # nothing to do: canceled while queued, already dialed, unknown call
    DEFERRED = "deferred"      # put back on the queue with a delay (pacing, concurrency, a claim in flight)
    FAILED = "failed"          # the call is now failed (carrier refusal, interrupted dial)
    RECOVERED = "recovered"    # an interrupted dial turned out to have reached the carrier


@dataclass(frozen=True)
class DialResult:
    """The outcome of one job, for logs and tests."""

    outcome: DialOutcome
    call_id: str
    reason: Optional[str] = None
    carrier_sid: Optional[str] = None
    delay_s: Optional[int] = None


@dataclass(frozen=True)
class DialLimits:
    """How fast and how much the dialer may dial.

    ``cps``: calls per second across every worker (the carrier account's limit; Twilio's default is
    1). ``max_concurrent_calls``: live calls (ringing, in progress, or being dialed) per workspace;
    calls claimed by a batch and waiting for their slots count too (up to
    ``resources.DIAL_CONCURRENCY * resources.DIAL_BATCH_SIZE``), so a cap below that puts jobs back
    while few calls are live.
    ``max_pace_wait_s``: how long one job may wait in the worker for its pacing slot before it is
    put back on the queue instead. ``ring_timeout_s``: how long the callee's phone rings.
    """

    cps: float = 1.0
    max_concurrent_calls: int = 100
    max_pace_wait_s: float = 20.0
    ring_timeout_s: int = 30
