"""Carrier call sid -> call: how a callback that names only the sid (the number-level status
callback of an inbound call) finds its call, and how a retried inbound voice webhook finds the call
it already created instead of creating a second one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pynamodb.exceptions import DoesNotExist, PutError

from ..clock import now_s
from .conditions import is_condition_failure
from .items import CallSidItem

__all__ = ["CallRef", "claim_sid", "find_sid"]

_SK = "sid"
# Long after any call has ended and its last callback arrived; DynamoDB's TTL then drops the item.
KEEP_S = 7 * 24 * 3600


@dataclass(frozen=True)
class CallRef:
    """Where a call lives."""

    workspace_id: str
    call_id: str


def claim_sid(sid: str, workspace_id: str, call_id: str) -> Optional[CallRef]:
    """Bind ``sid`` to the call; returns the call it was already bound to (then nothing is written)."""
    item = CallSidItem(f"sid#{sid}", _SK, workspace_id=workspace_id, call_id=call_id, expires_at=now_s() + KEEP_S)
    try:
        item.save(condition=CallSidItem.pk.does_not_exist())
    except PutError as error:
        if not is_condition_failure(error):
            raise
        return find_sid(sid)
    return None


def find_sid(sid: str) -> Optional[CallRef]:
    """The call bound to ``sid``, if any."""
    try:
        item = CallSidItem.get(f"sid#{sid}", _SK, consistent_read=True)
    except DoesNotExist:
        return None
    return CallRef(item.workspace_id, item.call_id)
