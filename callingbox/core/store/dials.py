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
from typing import Any, Callable, Optional, Sequence

from pynamodb.constants import UPDATED_NEW
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from .. import resources
from ..call_states import CallStatus
from ..clock import now_s
from ..errors import Conflict
from .calls import LIVE_STATUSES, MAX_WRITE_ATTEMPTS, CallRecord, get_call
from .binding import transaction, update_item
from .conditions import cancellation_codes, is_condition_failure, is_transaction_conflict
from .items import CallItem, PacerItem, ws_key

__all__ = ["DialWrite", "SlotTake", "claim_dial", "claim_dials", "release_dial", "update_dial", "count_live",
           "read_slot", "advance_slot", "take_slot"]

_PREFIX = "call#"
_LIVE = resources.LIVE_INDEX.partition


@dataclass(frozen=True)
class DialWrite:
    """The outcome of a dial write: ``changed`` False when the change did not apply; ``doc`` is current."""

    doc: dict[str, Any]
    changed: bool
    record: CallRecord
    """The call as stored after this write (or as read, when nothing changed): hand it to the
    next :func:`update_dial` of the same call to spare that write its read."""


def update_dial(workspace_id: str, call_id: str, change: Callable[[dict[str, Any]], Optional[dict[str, Any]]],
                *, current: Optional[CallRecord] = None) -> DialWrite:
    """Apply ``change`` to the call's document without touching its status, race-safely.

    Conditional on the version read (every document write bumps it), retried on fresh data when
    another writer got in first. The live-index slot follows the document: a queued call is in the
    index exactly while it holds a ``dial`` claim; a ringing/in_progress call stays in it; an ended
    one stays out.

    ``current``: the call as the caller last read or wrote it. The first attempt writes against it
    without reading (the dialer's claim and sid writes follow its own read and its own write); a
    stale one only costs a failed condition and a fresh read.
    """
    for attempt in range(MAX_WRITE_ATTEMPTS):
        record = current if attempt == 0 and current is not None else get_call(workspace_id, call_id)
        proposed = change(dict(record.doc))
        if proposed is None:
            if record is current:
                continue  # "nothing to do" may only be decided on fresh data
            return DialWrite(record.doc, False, record)
        if proposed["status"] != record.status:
            raise ValueError("update_dial never changes a call's status; use transition_call")
        proposed["updated"] = now_s()
        raw = json.dumps(proposed)
        live = record.status in LIVE_STATUSES or (
            record.status == CallStatus.QUEUED.value and bool(proposed.get("dial")))
        try:
            update_item(
                CallItem, ws_key(workspace_id), _PREFIX + call_id,
                actions=[
                    CallItem.doc.set(raw),
                    CallItem.version.set(record.version + 1),
                    CallItem.live.set(_LIVE) if live else CallItem.live.remove(),
                ],
                condition=(CallItem.version == record.version) & (CallItem.status == record.status),
            )
        except UpdateError as error:
            if is_condition_failure(error):
                continue
            raise
        return DialWrite(proposed, True, CallRecord(raw, record.status, record.version + 1,
                                                    heartbeat_at=record.heartbeat_at,
                                                    recording_key=record.recording_key))
    raise Conflict("the call is being updated concurrently; retry", code="concurrent_update", permanent=False)


def claim_dial(workspace_id: str, call_id: str, claim: dict[str, Any], *,
               current: Optional[CallRecord] = None) -> DialWrite:
    """Put ``claim`` on the call as its ``dial`` only if it is queued and nobody claimed it yet
    (``current``: see :func:`update_dial`)."""

    def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
        if not _claimable(doc):
            return None
        doc["dial"] = claim
        return doc

    return update_dial(workspace_id, call_id, change, current=current)


def _claimable(doc: dict[str, Any]) -> bool:
    """Queued, and nobody claimed it yet."""
    return doc["status"] == CallStatus.QUEUED.value and not doc.get("dial")


def claim_dials(claims: Sequence[tuple[str, str, CallRecord, dict[str, Any]]]) -> Optional[dict[str, CallRecord]]:
    """Claim several calls in one transaction: each ``(workspace_id, call_id, current, claim)`` as
    :func:`claim_dial` would, against the record given (no reads). All or nothing: None when any of
    them changed since it was read (or another transaction touched one), and then nothing was
    written; else the stored records by call id. Calls that are not claimable (not queued, or
    already claimed) are left out, as are repeats of a call.
    """
    writes: list[tuple[str, str, CallRecord, str]] = []
    seen: set[tuple[str, str]] = set()
    for workspace_id, call_id, current, claim in claims:
        doc = current.doc
        if (workspace_id, call_id) in seen or not _claimable(doc):
            continue
        seen.add((workspace_id, call_id))
        doc["dial"] = claim
        doc["updated"] = now_s()
        writes.append((workspace_id, call_id, current, json.dumps(doc)))
    if not writes:
        return {}
    try:
        with transaction() as write:
            for workspace_id, call_id, current, raw in writes:
                write.update(CallItem(ws_key(workspace_id), _PREFIX + call_id),
                             actions=[CallItem.doc.set(raw), CallItem.version.set(current.version + 1),
                                      CallItem.live.set(_LIVE)],
                             condition=(CallItem.version == current.version) & (CallItem.status == current.status))
    except TransactWriteError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error) or is_transaction_conflict(error):
            return None
        raise
    return {call_id: CallRecord(raw, current.status, current.version + 1, heartbeat_at=current.heartbeat_at,
                                recording_key=current.recording_key)
            for _, call_id, current, raw in writes}


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


@dataclass(frozen=True)
class SlotTake:
    """:func:`take_slot`'s answer: the slot taken, or the next free one (beyond the horizon), or
    neither (another worker moved the slot between the steps: ask again)."""

    slot: Optional[int] = None
    next_free: Optional[int] = None
    idle: bool = False
    """The slot was taken by the idle case's write (the pacer was behind the clock)."""


def take_slot(name: str, *, now: int, interval: int, horizon: int, idle_first: bool = False,
              count: int = 1) -> SlotTake:
    """Take pacer ``name``'s next free slot if it lies within ``horizon`` of ``now`` (microseconds).

    Slot ahead of ``now`` and within reach (the busy case): one atomic ``ADD interval``; the value
    before the addition is our slot. Slot in the past or never set (idle): set it to ``now +
    interval``, our slot being ``now``. Both writes are conditional, so two workers never get the
    same slot; when neither applies, the slot is read to tell "beyond the horizon" from a race.
    ``idle_first`` tries the idle case's write first (the caller's last take was idle: the
    workers dial slower than the limit), so each regime costs one request.

    ``count`` takes that many consecutive slots at once (all within ``horizon``, or none):
    ``slot`` is the first, the others follow it ``interval`` apart.
    """
    key = f"pacer#{name}"
    run = interval * count
    last_reach = now + horizon - interval * (count - 1)  # the first slot may lie no later

    def busy() -> Optional[SlotTake]:
        try:
            answer = update_item(PacerItem, key, "pacer", actions=[PacerItem.next_slot.add(run)],
                                 condition=(PacerItem.next_slot > now) & (PacerItem.next_slot <= last_reach),
                                 return_values=UPDATED_NEW)
        except UpdateError as error:
            if not is_condition_failure(error):
                raise
            return None
        return SlotTake(slot=int(answer["Attributes"][PacerItem.next_slot.attr_name]["N"]) - run)

    def idle() -> Optional[SlotTake]:
        try:
            PacerItem(key, "pacer", next_slot=now + run).save(
                condition=PacerItem.pk.does_not_exist() | (PacerItem.next_slot <= now))
        except PutError as error:
            if not is_condition_failure(error):
                raise
            return None
        return SlotTake(slot=now, idle=True)

    for attempt in (idle, busy) if idle_first else (busy, idle):
        taken = attempt()
        if taken is not None:
            return taken
    current = read_slot(name)
    if current is not None and current > last_reach:
        return SlotTake(next_free=current)
    return SlotTake()
