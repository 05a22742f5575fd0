"""Calls: insert, read, list with every filter, the conditional status write, heartbeats.

Besides its document, a call item carries three attributes the status writes keep right:

- ``LIVEPK`` (the sparse ``live_calls`` index) is ``"live"`` exactly while the status is ringing or
  in_progress: set by the write that enters one of them, removed by the write that ends the call.
- ``heartbeat_at`` is the voice gateway's last sign of life (:func:`heartbeat`). The write that
  enters in_progress seeds it with its own time if no heartbeat came yet, so a call whose gateway
  never connects still goes stale and is swept (:mod:`callingbox.core.sweeper`).
- ``recording_key`` (:func:`set_recording_key`) names the call's recording in the bucket.

Every status a call enters (its first, on insert, and each move a conditional write made) counts
once in the ``CallStatus`` metric (:data:`callingbox.core.observability.CALL_STATUS_METRIC`). It is
counted here because only this write knows that the move happened, exactly once: the writers'
repeats and lost races change nothing and count nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from .. import ids, resources
from ..call_states import CallStatus, allowed_sources, can_transition
from ..clock import now_s
from ..errors import Conflict, NotFound
from ..pagination import Page, decode_cursor, encode_cursor
from .binding import update_item
from .conditions import is_condition_failure
from .items import CallItem, ws_key

__all__ = [
    "CallFilters",
    "CallRecord",
    "Transition",
    "insert_call",
    "get_call",
    "get_calls",
    "query_calls",
    "transition_call",
    "update_call",
    "heartbeat",
    "set_recording_key",
    "LIVE_STATUSES",
]

_PREFIX = "call#"
_UPPER = "call#~"  # sorts after every call id
# Optimistic writes retry this often when other writers keep winning; beyond that something is wrong.
MAX_WRITE_ATTEMPTS = 8
# The statuses in which a call sits in the live_calls index (something is, or may soon be, talking).
LIVE_STATUSES = frozenset({CallStatus.RINGING.value, CallStatus.IN_PROGRESS.value})
_LIVE = resources.LIVE_INDEX.partition
# What a CallRecord holds: a read leaves out the keys and the index attributes, which nobody reads.
_RECORD_ATTRIBUTES = [CallItem.doc.attr_name, CallItem.status.attr_name, CallItem.version.attr_name,
                      CallItem.heartbeat_at.attr_name, CallItem.recording_key.attr_name]


@dataclass(frozen=True)
class CallFilters:
    """Every filter of ``GET /v1/calls``; ``None`` means "any"."""

    agent_id: Optional[str] = None
    direction: Optional[str] = None
    status: Optional[str] = None
    to_number: Optional[str] = None
    from_number: Optional[str] = None
    created_after: Optional[int] = None
    created_before: Optional[int] = None


@dataclass
class CallRecord:
    """A stored call: its JSON document as stored, its status and version, and the item-only
    attributes (last heartbeat, recording key) that are not part of the document."""

    raw: str
    status: str
    version: int
    heartbeat_at: Optional[float] = None
    recording_key: Optional[str] = None

    @property
    def doc(self) -> dict[str, Any]:
        """The parsed document."""
        return json.loads(self.raw)


@dataclass
class Transition:
    """The outcome of a status write: ``changed`` is False for duplicates and late updates."""

    doc: dict[str, Any]
    changed: bool


def _index_values(workspace_id: str, doc: dict[str, Any]) -> dict[str, Optional[str]]:
    return {
        "gsi1pk": f"{workspace_id}#agent_id#{doc['agent_id']}",
        "gsi2pk": f"{workspace_id}#status#{doc['status']}",
        "gsi3pk": f"{workspace_id}#to_number#{doc['to_number']}",
        "gsi4pk": f"{workspace_id}#from_number#{doc['from_number']}" if doc.get("from_number") else None,
        "gsi5pk": f"{workspace_id}#direction#{doc['direction']}",
    }


def insert_call(workspace_id: str, doc: dict[str, Any]) -> CallRecord:
    """Store a new call (its id must be new)."""
    raw = json.dumps(doc)
    live = doc["status"] in LIVE_STATUSES
    item = CallItem(ws_key(workspace_id), _PREFIX + doc["id"], doc=raw, version=1, status=doc["status"],
                    live=_LIVE if live else None,
                    heartbeat_at=now_s() if doc["status"] == CallStatus.IN_PROGRESS.value else None,
                    **_index_values(workspace_id, doc))
    try:
        item.save(condition=CallItem.pk.does_not_exist())
    except PutError as error:
        if is_condition_failure(error):
            raise Conflict(f"call {doc['id']} already exists", code="call_exists") from error
        raise
    _count_status(doc["status"])
    return CallRecord(raw, doc["status"], 1)


def _count_status(status: str) -> None:
    """One ``CallStatus`` count for ``status``; telemetry never fails the write it follows."""
    try:
        from ..observability import CALL_STATUS_METRIC, emit_metric

        emit_metric(CALL_STATUS_METRIC, 1, dimensions={"status": status})
    except Exception as error:  # noqa: BLE001
        from ..observability import get_logger

        get_logger("store").warning("call status metric not published", extra={"status": status,
                                                                                  "error": repr(error)})


def get_call(workspace_id: str, call_id: str) -> CallRecord:
    """The call, or :class:`NotFound`."""
    try:
        item = CallItem.get(ws_key(workspace_id), _PREFIX + call_id, consistent_read=True,
                            attributes_to_get=_RECORD_ATTRIBUTES)
    except DoesNotExist:
        raise NotFound(f"no call {call_id!r}", param="call_id") from None
    return _record(item)


def _record(item: CallItem) -> CallRecord:
    return CallRecord(item.doc, item.status, int(item.version),
                      heartbeat_at=item.heartbeat_at, recording_key=item.recording_key)


def get_calls(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CallRecord]:
    """The calls ``(workspace_id, call_id)`` that exist, read together (one BatchGetItem per 100),
    keyed like ``keys``; a missing call is simply absent."""
    wanted = {(ws_key(workspace_id), _PREFIX + call_id): (workspace_id, call_id) for workspace_id, call_id in keys}
    found: dict[tuple[str, str], CallRecord] = {}
    for item in CallItem.batch_get(list(wanted), consistent_read=True,
                                   attributes_to_get=[CallItem.pk.attr_name, CallItem.sk.attr_name,
                                                      *_RECORD_ATTRIBUTES]):
        found[wanted[(item.pk, item.sk)]] = _record(item)
    return found


def query_calls(workspace_id: str, filters: CallFilters, *, limit: int, cursor: Optional[str]) -> Page:
    """Calls newest first through the most selective index; the other filters apply server-side."""
    after = decode_cursor(cursor, prefix=_PREFIX)
    lower = _PREFIX + ids.id_floor("call", filters.created_after) if filters.created_after is not None else _PREFIX
    upper = _PREFIX + ids.id_ceiling("call", filters.created_before) if filters.created_before is not None else _UPPER
    if after is not None and after < upper:
        upper = after
    if upper < lower:
        return Page([], False, None)
    key_range = CallItem.sk.between(lower, upper)

    by_field = {
        "agent_id": (filters.agent_id, CallItem.calls_by_agent, CallItem.gsi1pk),
        "to_number": (filters.to_number, CallItem.calls_by_to, CallItem.gsi3pk),
        "from_number": (filters.from_number, CallItem.calls_by_from, CallItem.gsi4pk),
        "status": (filters.status, CallItem.calls_by_status, CallItem.gsi2pk),
        "direction": (filters.direction, CallItem.calls_by_direction, CallItem.gsi5pk),
    }
    chosen: Optional[str] = next((name for name, (value, _, _) in by_field.items() if value is not None), None)
    residual = None
    for name, (value, _, attribute) in by_field.items():
        if value is None or name == chosen:
            continue
        clause = attribute == f"{workspace_id}#{name}#{value}"
        residual = clause if residual is None else residual & clause

    # One extra to learn has_more, one more because BETWEEN includes the cursor item itself.
    fetch = limit + 2
    # Only the sort key and the document are read: the list is built from stored JSON as is.
    options: dict[str, Any] = dict(range_key_condition=key_range, filter_condition=residual,
                                   scan_index_forward=False, limit=fetch, page_size=max(fetch, 25),
                                   attributes_to_get=[CallItem.sk.attr_name, CallItem.doc.attr_name])
    if chosen is None:
        results = CallItem.query(ws_key(workspace_id), **options)
    else:
        value, index, _ = by_field[chosen]
        results = index.query(f"{workspace_id}#{chosen}#{value}", **options)
    items = [item for item in results if item.sk != after]
    kept = items[:limit]
    has_more = len(items) > limit
    return Page([item.doc for item in kept], has_more, encode_cursor(kept[-1].sk) if has_more and kept else None)


def _live_actions(target: str, now: int) -> list[Any]:
    """Keep the live-index slot (and the first heartbeat) in step with the status being written."""
    if target not in LIVE_STATUSES:
        # Terminal (or queued): out of the live index. REMOVE of an absent attribute is a no-op.
        return [CallItem.live.remove()]
    actions = [CallItem.live.set(_LIVE)]
    if target == CallStatus.IN_PROGRESS.value:
        # if_not_exists: a heartbeat the gateway already sent is newer evidence than this write.
        actions.append(CallItem.heartbeat_at.set(CallItem.heartbeat_at | now))
    return actions


def update_call(workspace_id: str, call_id: str, change: Callable[[dict[str, Any]], Optional[dict[str, Any]]],
                *, heartbeat_before: Optional[float] = None) -> Transition:
    """Apply ``change`` (which returns the new document, or None for "nothing to do") race-safely.

    The write is conditional on both the version read and on the new status being reachable from
    the stored one, so concurrent writers retry on fresh data and no writer can move a call back.

    ``heartbeat_before`` (the sweeper's guard) applies the change only while the call's last
    heartbeat is older than that time, checked on the fresh read and again in the write's
    condition, because heartbeats do not bump the version::

        sweeper: read (heartbeat 100, stale) ........ write IF heartbeat_at < cutoff -> fails
        gateway:            heartbeat(160) ──┘
        sweeper: re-read (heartbeat 160, fresh) -> nothing to do
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        record = get_call(workspace_id, call_id)
        current = record.doc
        if heartbeat_before is not None and record.heartbeat_at is not None and record.heartbeat_at >= heartbeat_before:
            return Transition(current, False)
        proposed = change(dict(current))
        if proposed is None:
            return Transition(current, False)
        target = proposed["status"]
        if target != record.status and not can_transition(record.status, target):
            return Transition(current, False)
        now = now_s()
        proposed["updated"] = now
        status_condition = (
            CallItem.status == record.status if target == record.status
            else CallItem.status.is_in(*(source.value for source in allowed_sources(target)))
        )
        condition = (CallItem.version == record.version) & status_condition
        if heartbeat_before is not None:
            condition &= CallItem.heartbeat_at.does_not_exist() | (CallItem.heartbeat_at < heartbeat_before)
        index_values = _index_values(workspace_id, proposed)
        try:
            update_item(
                CallItem, ws_key(workspace_id), _PREFIX + call_id,
                actions=[
                    CallItem.doc.set(json.dumps(proposed)),
                    CallItem.status.set(target),
                    CallItem.gsi2pk.set(index_values["gsi2pk"]),
                    CallItem.version.set(record.version + 1),
                    *_live_actions(target, now),
                ],
                condition=condition,
            )
        except UpdateError as error:
            if is_condition_failure(error):
                continue
            raise
        if target != record.status:
            _count_status(target)
        return Transition(proposed, True)
    raise Conflict("the call is being updated concurrently; retry", code="concurrent_update", permanent=False)


def transition_call(workspace_id: str, call_id: str, target: CallStatus | str, *,
                    heartbeat_before: Optional[float] = None, **fields: Any) -> Transition:
    """Move a call to ``target`` and set ``fields``; a duplicate or backwards move changes nothing.

    ``heartbeat_before``: only while the last heartbeat is older than this (see :func:`update_call`).
    """
    wanted = CallStatus(target).value

    def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
        if doc["status"] == wanted or not can_transition(doc["status"], wanted):
            return None
        doc.update(fields)
        doc["status"] = wanted
        return doc

    return update_call(workspace_id, call_id, change, heartbeat_before=heartbeat_before)


def heartbeat(workspace_id: str, call_id: str, now: float) -> bool:
    """Record that the voice gateway still runs ``call_id`` at ``now`` (unix seconds).

    Returns False when the call is no longer live (ended, e.g. by the sweeper or a hang-up): the
    gateway should then stop. Only ``heartbeat_at`` is written, never the document or the version,
    so heartbeats do not make status writes retry. A heartbeat older than the stored one is ignored
    (the stored time never moves back); an unknown call is :class:`NotFound`.
    """
    condition = (
        CallItem.pk.exists()
        & CallItem.status.is_in(*LIVE_STATUSES)
        & (CallItem.heartbeat_at.does_not_exist() | (CallItem.heartbeat_at < now))
    )
    try:
        update_item(CallItem, ws_key(workspace_id), _PREFIX + call_id, actions=[CallItem.heartbeat_at.set(now)],
                    condition=condition)
    except UpdateError as error:
        if not is_condition_failure(error):
            raise
        # Rare: find out which part failed. A newer heartbeat already stored is still "alive".
        return get_call(workspace_id, call_id).status in LIVE_STATUSES
    return True


def set_recording_key(workspace_id: str, call_id: str, key: str) -> None:
    """Remember where the call's recording is (``GET /v1/calls/{id}`` presigns it as ``recording_url``).

    Written beside the document (not into it, and without a version bump) so it never races the
    status writes; an unknown call is :class:`NotFound`.
    """
    try:
        update_item(CallItem, ws_key(workspace_id), _PREFIX + call_id, actions=[CallItem.recording_key.set(key)],
                    condition=CallItem.pk.exists())
    except UpdateError as error:
        if is_condition_failure(error):
            raise NotFound(f"no call {call_id!r}", param="call_id") from None
        raise
