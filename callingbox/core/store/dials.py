"""The dialer's storage: the dial claim on a call, the count of a workspace's live calls, and the
shared pacing slot. The rules that use them live in :mod:`callingbox.core.dialing`.

A call's ``dial`` field records what the dialer did with it::

    {"state": "dialing", "attempt_id": "...", "claimed_at": 1712345678}       claimed, not yet dialed
    {"state": "dialed",  "attempt_id": "...", "claimed_at": ..., "dialed_at": ...}   the carrier has it

While a call is claimed (and still ``queued``) it sits in the ``live_calls`` index like a ringing
call, so that the per-workspace concurrency count sees calls being dialed right now. The status
writes of :mod:`.calls` take it out again when the call ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from .. import resources
from ..call_states import CallStatus
from ..clock import now_s
from ..errors import Conflict
from .calls import LIVE_STATUSES, MAX_WRITE_ATTEMPTS, get_call
from .conditions import is_condition_failure
from .items import CallItem, PacerItem, ws_key

__all__ = ["DialWrite", "claim_dial", "release_dial", "update_dial", "count_live", "read_slot", "advance_slot"]

_PREFIX = "call#"
_LIVE = resources.LIVE_INDEX.partition


@dataclass(frozen=True)
class DialWrite:
    """The outcome of a dial write: ``changed`` False when the change did not apply; ``doc`` is current."""

    doc: dict[str, Any]
    changed: bool


def update_dial(workspace_id: str, call_id: str, change: Callable[[dict[str, Any]], Optional[dict[str, Any]]],
                ) -> DialWrite:
    """Apply ``change`` to the call's document without touching its status, race-safely.

    Conditional on the version read (every document write bumps it), retried on fresh data when
    another writer got in first. The live-index slot follows the document: a queued call is in the
    index exactly while it holds a ``dial`` claim; a ringing/in_progress call stays in it; an ended
    one stays out.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        record = get_call(workspace_id, call_id)
        proposed = change(dict(record.doc))
        if proposed is None:
            return DialWrite(record.doc, False)
        if proposed["status"] != record.status:
            raise ValueError("update_dial never changes a call's status; use transition_call")
        proposed["updated"] = now_s()
        live = record.status in LIVE_STATUSES or (
            record.status == CallStatus.QUEUED.value and bool(proposed.get("dial")))
        try:
            CallItem(ws_key(workspace_id), _PREFIX + call_id).update(
                actions=[
                    CallItem.doc.set(json.dumps(proposed)),
                    CallItem.version.set(record.version + 1),
                    CallItem.live.set(_LIVE) if live else CallItem.live.remove(),
                ],
                condition=(CallItem.version == record.version) & (CallItem.status == record.status),
            )
        except UpdateError as error:
            if is_condition_failure(error):
                continue
            raise
        return DialWrite(proposed, True)
    raise Conflict("the call is being updated concurrently; retry", code="concurrent_update", permanent=False)


def claim_dial(workspace_id: str, call_id: str, claim: dict[str, Any]) -> DialWrite:
    """Put ``claim`` on the call as its ``dial`` only if it is queued and nobody claimed it yet."""

    def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
        if doc["status"] != CallStatus.QUEUED.value or doc.get("dial"):
            return None
        doc["dial"] = claim
        return doc

    return update_dial(workspace_id, call_id, change)


def release_dial(workspace_id: str, call_id: str, attempt_id: str) -> DialWrite:
    """Give back an undialed claim (the job is put back for later): only our own, only while queued."""

    def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
        dial = doc.get("dial") or {}
        if doc["status"] != CallStatus.QUEUED.value or dial.get("attempt_id") != attempt_id:
            return None
        if dial.get("state") != "dialing":
            return None
        doc.pop("dial", None)
        return doc

    return update_dial(workspace_id, call_id, change)


def count_live(workspace_id: str) -> int:
    """How many of the workspace's calls are ringing, in progress, or claimed for dialing right now.

    One query of the sparse ``live_calls`` index (every workspace's live calls), filtered to this
    workspace. The index is updated asynchronously by DynamoDB (typically well under a second).
    """
    return int(CallItem.live_calls.count(_LIVE, filter_condition=CallItem.pk == ws_key(workspace_id)))


def read_slot(name: str) -> Optional[int]:
    """The next free slot of pacer ``name`` (unix microseconds), or None if it was never used."""
    try:
        return int(PacerItem.get(f"pacer#{name}", "pacer", consistent_read=True).next_slot)
    except DoesNotExist:
        return None


def advance_slot(name: str, *, expected: Optional[int], to: int) -> bool:
    """Move pacer ``name``'s next free slot from ``expected`` (None: unset) to ``to``; False if someone moved it first."""
    condition = PacerItem.pk.does_not_exist() if expected is None else PacerItem.next_slot == expected
    try:
        PacerItem(f"pacer#{name}", "pacer", next_slot=to).save(condition=condition)
    except PutError as error:
        if is_condition_failure(error):
            return False
        raise
    return True
