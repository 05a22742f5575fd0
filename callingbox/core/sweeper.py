"""Ending calls whose voice gateway is gone.

While a call is live its gateway calls :func:`heartbeat` every :data:`HEARTBEAT_INTERVAL_S`. If the
gateway task dies (crash, Fargate replacement, lost network), nobody will ever write the call's
end: it would stay ``in_progress`` forever. :func:`sweep`, run on a schedule, finds in_progress
calls whose last heartbeat is older than :data:`STALE_AFTER_S` through the sparse ``live_calls``
index (live calls of every workspace, nothing else) and moves each to ``failed`` with
``end_reason "error:gateway_lost"``. The transcript segments already written stay as they are.

Race-safe: the move goes through :func:`~callingbox.core.store.calls.transition_call`, so a call
that ended meanwhile is left alone (status only moves forward), and it is guarded by
``heartbeat_before`` so a heartbeat that lands between the index read and the write keeps the
call alive.

Examples:
    ended = sweep(time.time())   # e.g. once a minute from a scheduled worker

Limitations:
    Only ``in_progress`` calls are swept; ``ringing`` calls are in the index too but are ended by
    the carrier's status callbacks. Events for the ``failed`` move (``call.failed``) and post-call
    work are not emitted here yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import resources
from .call_states import CallStatus, EndReason
from .errors import Conflict
from .store import calls as call_store
from .store.calls import heartbeat
from .store.items import CallItem

__all__ = ["HEARTBEAT_INTERVAL_S", "STALE_AFTER_S", "EndedCall", "heartbeat", "sweep"]

# How often the gateway reports a live call. One small attribute write per call each time.
HEARTBEAT_INTERVAL_S = 5
# A call is stale after 12 missed heartbeats. Shorter would end live calls on ordinary trouble: a
# throttled DynamoDB write retried with backoff (botocore's standard mode waits up to 20 s), a
# gateway task paused by CPU starvation or a deploy drain, clock skew between the gateway and the
# sweeper, and GSI replication lag. Longer only delays closing a call that is really lost (the
# caller has already heard silence); with a one-minute schedule it is closed within ~2 minutes.
STALE_AFTER_S = 60

_PK_PREFIX = "ws#"
_SK_PREFIX = "call#"


@dataclass(frozen=True)
class EndedCall:
    """A call the sweep moved to ``failed``: where it was, its last heartbeat, and the new document."""

    workspace_id: str
    call_id: str
    last_heartbeat_at: Optional[float]
    call: dict[str, Any]


def sweep(now: float, *, stale_after_s: float = STALE_AFTER_S) -> list[EndedCall]:
    """End every in_progress call, in any workspace, whose last heartbeat is before ``now - stale_after_s``.

    Parameters:
        now: the current time, unix seconds.
        stale_after_s: how long without a heartbeat means the gateway is lost.

    Returns:
        The calls this sweep ended (a call ended meanwhile by someone else is not among them).
        ``ended_at`` is the last heartbeat: the last moment the call was known to be running.
    """
    cutoff = now - stale_after_s
    stale = CallItem.live_calls.query(
        resources.LIVE_INDEX.partition,
        filter_condition=(CallItem.status == CallStatus.IN_PROGRESS.value) & (CallItem.heartbeat_at < cutoff),
    )
    ended: list[EndedCall] = []
    for item in stale:
        workspace_id = item.pk[len(_PK_PREFIX):]
        call_id = item.sk[len(_SK_PREFIX):]
        last = item.heartbeat_at
        fields: dict[str, Any] = {"end_reason": EndReason.GATEWAY_LOST.value}
        if last is not None:
            fields["ended_at"] = int(last)
        try:
            outcome = call_store.transition_call(workspace_id, call_id, CallStatus.FAILED,
                                                 heartbeat_before=cutoff, **fields)
        except Conflict:
            continue  # other writers kept winning on this call; it stays in the index for the next sweep
        if outcome.changed:
            ended.append(EndedCall(workspace_id, call_id, last, outcome.doc))
    return ended
