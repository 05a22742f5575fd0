"""Deliveries: one record per event and destination, holding its state and its attempt log.

Exactly one worker performs attempt ``n`` of a delivery, however many copies of its job SQS hands
out (at-least-once delivery, redrives, an early re-enqueue, a redeliver request)::

    job n (copy 1): claim IF attempt_count = n-1 AND no live lease ──► POST ──► record IF lease is mine
    job n (copy 2): claim ✗ (lease live)  ──► raise: SQS retries it later, when it finds
                                              attempt_count = n and drops it

``scheduled_attempt`` is the attempt whose job was last put on the queue. A job that finds its
attempt already recorded re-sends the next job only when ``scheduled_attempt`` says nobody did
(the worker that recorded it died before enqueueing), so a lost job is recovered without doubling
the chain.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from .conditions import is_condition_failure
from .events import RETENTION_S
from .items import DeliveryItem, ws_key

__all__ = [
    "DeliveryRecord",
    "destination_key",
    "create_delivery",
    "get_delivery",
    "list_deliveries",
    "claim_attempt",
    "record_attempt",
    "mark_scheduled",
    "restart_delivery",
    "MAX_LOGGED_ATTEMPTS",
]

_PREFIX = "dlv#"
# The attempt log keeps the newest entries; ~50 attempts fill a 24 h window, redeliveries add more.
MAX_LOGGED_ATTEMPTS = 200


@dataclass
class DeliveryRecord:
    """A delivery as stored."""

    event_id: str
    destination: str  # "webhook_url" or "endpoint"
    endpoint_id: Optional[str]
    url: str
    status: str  # pending | succeeded | failed
    attempt_count: int
    scheduled_attempt: int
    next_attempt_at: Optional[float]
    window_started_at: float
    created: int
    lease_until: Optional[float] = None
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """What tells this destination apart among the event's deliveries."""
        return destination_key(self.destination, self.endpoint_id)

    def public(self) -> dict[str, Any]:
        """The ``deliveries[]`` entry of ``GET /v1/events/{id}``."""
        return {
            "destination": self.destination,
            "endpoint_id": self.endpoint_id,
            "url": self.url,
            "status": self.status,
            "attempt_count": self.attempt_count,
            "next_attempt_at": math.ceil(self.next_attempt_at) if self.next_attempt_at is not None else None,
            "attempts": self.attempts,
        }


def destination_key(destination: str, endpoint_id: Optional[str]) -> str:
    """``url`` for the call's webhook_url, else the endpoint id."""
    return "url" if destination == "webhook_url" else str(endpoint_id)


def _sort_key(event_id: str, key: str) -> str:
    return f"{_PREFIX}{event_id}#{key}"


def _record(item: DeliveryItem) -> DeliveryRecord:
    return DeliveryRecord(
        event_id=item.event_id, destination=item.destination, endpoint_id=item.endpoint_id, url=item.url,
        status=item.status, attempt_count=int(item.attempt_count), scheduled_attempt=int(item.scheduled_attempt),
        next_attempt_at=item.next_attempt_at, window_started_at=float(item.window_started_at),
        created=int(item.created), lease_until=item.lease_until, attempts=json.loads(item.attempts or "[]"),
    )


def create_delivery(workspace_id: str, record: DeliveryRecord) -> bool:
    """Store a new delivery; False when this event already has one for the destination."""
    item = DeliveryItem(
        ws_key(workspace_id), _sort_key(record.event_id, record.key),
        event_id=record.event_id, destination=record.destination, endpoint_id=record.endpoint_id, url=record.url,
        status=record.status, attempt_count=0, scheduled_attempt=0, next_attempt_at=record.next_attempt_at,
        window_started_at=record.window_started_at, attempts="[]", created=record.created,
        expires_at=record.created + RETENTION_S,
    )
    try:
        item.save(condition=DeliveryItem.pk.does_not_exist())
    except PutError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def get_delivery(workspace_id: str, event_id: str, key: str) -> Optional[DeliveryRecord]:
    """The delivery, or None."""
    try:
        return _record(DeliveryItem.get(ws_key(workspace_id), _sort_key(event_id, key), consistent_read=True))
    except DoesNotExist:
        return None


def list_deliveries(workspace_id: str, event_id: str) -> list[DeliveryRecord]:
    """Every delivery of an event (a handful: the webhook_url and the subscribed endpoints)."""
    items = DeliveryItem.query(ws_key(workspace_id), range_key_condition=DeliveryItem.sk.startswith(
        f"{_PREFIX}{event_id}#"), consistent_read=True)
    return sorted((_record(item) for item in items), key=lambda record: (record.created, record.key))


def _update(workspace_id: str, event_id: str, key: str, actions: list[Any], condition: Any) -> bool:
    try:
        DeliveryItem(ws_key(workspace_id), _sort_key(event_id, key)).update(actions=actions, condition=condition)
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def claim_attempt(workspace_id: str, event_id: str, key: str, *, attempt: int, token: str, now: float,
                  lease_s: float) -> bool:
    """Take the lease for ``attempt``; False when it is done already or another worker holds it."""
    condition = (
        (DeliveryItem.status == "pending")
        & (DeliveryItem.attempt_count == attempt - 1)
        & (DeliveryItem.lease_until.does_not_exist() | (DeliveryItem.lease_until < now))
    )
    return _update(workspace_id, event_id, key,
                   [DeliveryItem.lease_until.set(now + lease_s), DeliveryItem.lease_token.set(token)], condition)


def record_attempt(workspace_id: str, event_id: str, key: str, *, attempt: int, token: str,
                   entry: dict[str, Any], previous: list[dict[str, Any]], status: str,
                   next_attempt_at: Optional[float], url: str) -> bool:
    """Log attempt ``attempt`` and the resulting state, releasing the lease (only while it is ours)."""
    log = [*previous, entry][-MAX_LOGGED_ATTEMPTS:]
    actions = [
        DeliveryItem.attempt_count.set(attempt),
        DeliveryItem.attempts.set(json.dumps(log, separators=(",", ":"))),
        DeliveryItem.status.set(status),
        DeliveryItem.url.set(url),
        DeliveryItem.lease_until.remove(),
        DeliveryItem.lease_token.remove(),
        DeliveryItem.next_attempt_at.set(next_attempt_at) if next_attempt_at is not None
        else DeliveryItem.next_attempt_at.remove(),
    ]
    condition = (DeliveryItem.lease_token == token) & (DeliveryItem.attempt_count == attempt - 1)
    return _update(workspace_id, event_id, key, actions, condition)


def mark_scheduled(workspace_id: str, event_id: str, key: str, *, attempt: int) -> bool:
    """Note that the job for ``attempt`` is on the queue (never moves back)."""
    return _update(workspace_id, event_id, key, [DeliveryItem.scheduled_attempt.set(attempt)],
                   DeliveryItem.scheduled_attempt < attempt)


def restart_delivery(workspace_id: str, event_id: str, key: str, *, now: float) -> Optional[DeliveryRecord]:
    """Make a delivery pending again with a fresh retry window, due now (``POST …/redeliver``)."""
    changed = _update(workspace_id, event_id, key, [
        DeliveryItem.status.set("pending"),
        DeliveryItem.window_started_at.set(now),
        DeliveryItem.next_attempt_at.set(now),
    ], DeliveryItem.pk.exists())
    return get_delivery(workspace_id, event_id, key) if changed else None
