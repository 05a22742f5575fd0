"""Events: written once per state change (deduplicated by key), listed, and flagged as the emit
pipeline (EventBridge publish, webhook fan-out) gets through its steps.

Two emitters racing on one state change (a carrier callback retried while the first is still
running)::

    A: TransactWrite[put evt#A if absent, put evtkey#K if absent] ──► committed
    B: TransactWrite[put evt#B if absent, put evtkey#K if absent] ✗ (evtkey#K exists)
       ──► reads evtkey#K -> evt#A ──► carries on with A's event

Both items go in one transaction, so a key never points at a missing event and an event never
lacks its key.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from ..errors import Conflict, NotFound
from ..pagination import Page, decode_cursor, encode_cursor
from .binding import transaction, update_item
from .conditions import cancellation_codes, is_condition_failure, is_transaction_conflict
from .items import EventItem, EventKeyItem, ws_key

__all__ = ["EventRecord", "insert_event", "get_event", "list_events", "mark_fanned_out",
           "RETENTION_S"]

_PREFIX = "evt#"
_KEY_PREFIX = "evtkey#"
# Events (with their delivery logs) are kept for 30 days, then DynamoDB's TTL removes them.
RETENTION_S = 30 * 24 * 3600
# Dedupe keys are caller-made; long ones are hashed so the sort key stays far below DynamoDB's limit.
_MAX_KEY = 200
_CONFLICT_RETRIES = 5


@dataclass
class EventRecord:
    """A stored event: its JSON exactly as delivered, and how far the emit pipeline got."""

    raw: str
    type: str
    published: bool
    fanned_out: bool

    @property
    def doc(self) -> dict[str, Any]:
        """The parsed event."""
        return json.loads(self.raw)


def _key_sort_key(dedupe_key: str) -> str:
    if len(dedupe_key) > _MAX_KEY:
        dedupe_key = "sha256:" + hashlib.sha256(dedupe_key.encode()).hexdigest()
    return _KEY_PREFIX + dedupe_key


def _record(item: EventItem) -> EventRecord:
    return EventRecord(item.doc, item.type, bool(item.published), bool(item.fanned_out))


def insert_event(workspace_id: str, doc: dict[str, Any], *, dedupe_key: str) -> tuple[EventRecord, bool]:
    """Store ``doc`` unless ``dedupe_key`` already produced an event; returns (the event, created?)."""
    partition = ws_key(workspace_id)
    raw = json.dumps(doc, separators=(",", ":"))
    expires_at = int(doc["created"]) + RETENTION_S
    for _ in range(_CONFLICT_RETRIES):
        try:
            with transaction() as write:
                write.save(EventItem(partition, _PREFIX + doc["id"], doc=raw, version=1, type=doc["type"],
                                     call_id=(doc.get("data") or {}).get("object", {}).get("id"),
                                     published=False, fanned_out=False, expires_at=expires_at),
                           condition=EventItem.pk.does_not_exist())
                write.save(EventKeyItem(partition, _key_sort_key(dedupe_key), event_id=doc["id"],
                                        expires_at=expires_at),
                           condition=EventKeyItem.pk.does_not_exist())
            return EventRecord(raw, doc["type"], False, False), True
        except TransactWriteError as error:
            if "ConditionalCheckFailed" in cancellation_codes(error):
                existing = _by_key(workspace_id, dedupe_key)
                if existing is not None:
                    return existing, False
            elif not is_transaction_conflict(error):
                raise
        time.sleep(0.05)
    raise Conflict("the event is being written concurrently; retry", code="concurrent_update", permanent=False)


def _by_key(workspace_id: str, dedupe_key: str) -> Optional[EventRecord]:
    try:
        key = EventKeyItem.get(ws_key(workspace_id), _key_sort_key(dedupe_key), consistent_read=True)
    except DoesNotExist:
        return None
    return get_event(workspace_id, key.event_id)


def get_event(workspace_id: str, event_id: str) -> EventRecord:
    """The event, or :class:`NotFound` (also for other workspaces' events)."""
    try:
        item = EventItem.get(ws_key(workspace_id), _PREFIX + event_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"no event {event_id!r}", param="event_id") from None
    return _record(item)


def list_events(workspace_id: str, *, type: Optional[str], limit: int, cursor: Optional[str]) -> Page:
    """Events newest first (ids are time-sortable), optionally of one ``type``."""
    after = decode_cursor(cursor, prefix=_PREFIX)
    condition = EventItem.sk.between(_PREFIX, after) if after else EventItem.sk.startswith(_PREFIX)
    items = EventItem.query(
        ws_key(workspace_id), range_key_condition=condition,
        filter_condition=(EventItem.type == type) if type is not None else None,
        scan_index_forward=False, limit=limit + 2, page_size=max(limit + 2, 25),
        attributes_to_get=[EventItem.sk.attr_name, EventItem.doc.attr_name],
    )
    found = [item for item in items if item.sk != after]
    kept = found[:limit]
    has_more = len(found) > limit
    return Page([item.doc for item in kept], has_more, encode_cursor(kept[-1].sk) if has_more and kept else None)


def mark_fanned_out(workspace_id: str, event_id: str, *, published: bool = False) -> None:
    """Every destination of the event has its delivery record and first job; with ``published``,
    the event is also on the EventBridge bus (one write for both flags)."""
    actions = [EventItem.fanned_out.set(True)]
    if published:
        actions.append(EventItem.published.set(True))
    try:
        update_item(EventItem, ws_key(workspace_id), _PREFIX + event_id, actions=actions,
                    condition=EventItem.pk.exists())
    except UpdateError as error:
        if is_condition_failure(error):
            raise NotFound(f"no event {event_id!r}", param="event_id") from None
        raise
