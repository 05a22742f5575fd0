"""Events: what happened to a call, as stored, listed, pushed to webhooks and put on EventBridge.

An event is ``{"id": "evt_…", "object": "event", "type", "created", "data": {"object": <call>}}``,
byte for byte the same on every delivery attempt and on the EventBridge bus (``detail``).
``GET /v1/events/{id}`` adds ``deliveries``: one per destination, with every attempt.
"""

from __future__ import annotations

from typing import Literal, Optional, get_args

from pydantic import Field

from ._base import ResponseModel
from .call import Call

__all__ = [
    "Event",
    "EventData",
    "EventType",
    "EVENT_TYPES",
    "EventDelivery",
    "DeliveryAttempt",
    "DeliveryStatus",
]

EventType = Literal[
    "call.queued",
    "call.ringing",
    "call.answered",
    "call.completed",
    "call.no_answer",
    "call.busy",
    "call.failed",
    "call.canceled",
    "call.extraction_failed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
"""Every event type, in lifecycle order."""

DeliveryStatus = Literal["pending", "succeeded", "failed"]


class EventData(ResponseModel):
    """The event's payload: the call as it was when the event was emitted."""

    object: Call


class DeliveryAttempt(ResponseModel):
    """One POST to a destination: when, what came back and how long it took."""

    attempt: int
    at: int
    status_code: Optional[int] = None
    latency_ms: Optional[int] = None
    error: Optional[str] = None
    succeeded: bool = False


class EventDelivery(ResponseModel):
    """The event's delivery to one destination: the call's ``webhook_url`` or an endpoint.

    ``status`` is ``pending`` while attempts remain (``next_attempt_at`` says when), ``succeeded``
    after a 2xx, and ``failed`` (dead-lettered) once retries ran out; ``POST
    /v1/events/{id}/redeliver`` starts again.
    """

    destination: Literal["webhook_url", "endpoint"]
    endpoint_id: Optional[str] = None
    url: str
    status: DeliveryStatus
    attempt_count: int = 0
    next_attempt_at: Optional[int] = None
    attempts: list[DeliveryAttempt] = Field(default_factory=list)


class Event(ResponseModel):
    """Something that happened to a call. ``type`` is one of :data:`EVENT_TYPES` (a newer server
    may add types, so it is a plain string here)."""

    id: str
    object: Literal["event"] = "event"
    type: str
    created: int
    data: EventData
    deliveries: Optional[list[EventDelivery]] = None
