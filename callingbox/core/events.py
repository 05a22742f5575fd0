"""Events: emitting one per call state change, and the ``/v1/events`` API.

:func:`emit_call_event` runs two steps, each safe to repeat::

    1. store      {"id": "evt_…", "object": "event", "type", "created", "data": {"object": call}}
                  once per dedupe key (default "<call id>:<type>"): a retried emitter finds the
                  event of its first run instead of making a second one
    2. fan out    one job on the "webhooks" queue; the delivery worker creates one delivery per
                  destination (:mod:`callingbox.core.delivery`) and puts the event on the
                  EventBridge bus (source "callingbox", detail-type = type, detail = event)

Publishing belongs to the fan-out job, not to the emitter: the status writers (the carrier's
callbacks above all, which the carrier waits on) then spend two requests per event instead of
four, and the worker records both steps in one write. An event is on the bus one queue hop
after it is stored.

If step 2 fails the error reaches the emitter, whose retry (same key) repeats only what is not
done yet. Wire-in for the state-change points::

    from callingbox.core.events import emit_call_event, event_for_transition

    outcome = transition_call(ws, call_id, target, …)
    if outcome.changed and (kind := event_for_transition(target)):
        emit_call_event(settings, ws, kind, outcome.doc)
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Optional

from .call_states import EVENT_FOR_STATUS, CallStatus
from .clock import now_s
from .errors import InvalidRequest
from .ids import new_id
from .observability import get_logger
from .pagination import Page
from .queues import JobQueues
from .scope import Scope
from .settings import Settings
from .store import events as event_store
from .store.binding import bind_store

__all__ = [
    "EVENT_TYPES",
    "EVENT_SOURCE",
    "emit_call_event",
    "event_for_transition",
    "build_event",
    "publish_event",
    "job_queues",
    "get_event",
    "list_events",
    "redeliver_event",
    "FAN_OUT_JOB",
    "expect_no_fields",
]

EVENT_SOURCE = "callingbox"
# Every event type, in lifecycle order (the public Literal in callingbox.types.event matches it).
EVENT_TYPES: tuple[str, ...] = (
    "call.queued", "call.ringing", "call.answered", "call.completed", "call.no_answer", "call.busy",
    "call.failed", "call.canceled", "call.extraction_failed",
)
FAN_OUT_JOB = "fan_out"
# EventBridge error codes worth another try; any other per-entry failure will never succeed.
_RETRYABLE_PUT_ERRORS = frozenset({"InternalFailure", "InternalException", "ThrottlingException"})

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def event_for_transition(target_status: CallStatus | str) -> Optional[str]:
    """The event a move into ``target_status`` emits (``call.completed`` is emitted by post-call
    processing, not by the status change, so ``completed`` gives None)."""
    return EVENT_FOR_STATUS.get(CallStatus(target_status))


def _cached(kind: str, settings: Settings, build: Any) -> Any:
    key = (kind, settings.region, settings.aws_endpoint_url, tuple(sorted(settings.queue_urls.items())))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = build()
        return _clients[key]


def job_queues(settings: Settings) -> JobQueues:
    """One :class:`JobQueues` per deployment target, shared by every emitter in the process."""
    return _cached("queues", settings, lambda: JobQueues(settings))


def _events_client(settings: Settings) -> Any:
    def build() -> Any:
        from .aws_clients import create_client

        return create_client(
            "events", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)

    return _cached("events", settings, build)


def build_event(event_type: str, call_doc: dict[str, Any], *, created: Optional[int] = None) -> dict[str, Any]:
    """The public event object for ``call_doc`` (a fresh ``evt_`` id)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return {"id": new_id("evt"), "object": "event", "type": event_type,
            "created": now_s() if created is None else created, "data": {"object": call_doc}}


def publish_event(settings: Settings, raw: str, *, event_type: str, created: int) -> bool:
    """Put the event on the bus; True when EventBridge took it.

    False (logged) for a failure worth retrying later; a permanent refusal (e.g. an event over
    EventBridge's 256 KB entry limit) is logged and reported as True, since retrying cannot help.
    """
    logger = get_logger("events")
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": event_type,
        "Detail": raw,
        "EventBusName": settings.event_bus_name,
        "Time": datetime.fromtimestamp(created, tz=timezone.utc),
    }
    try:
        response = _events_client(settings).put_events(Entries=[entry])
    except Exception as error:  # botocore's connection and client errors alike: retry later
        logger.warning("event not published to EventBridge; will retry", extra={"error": str(error)})
        return False
    if not response.get("FailedEntryCount"):
        return True
    failed = (response.get("Entries") or [{}])[0]
    code = failed.get("ErrorCode")
    if code in _RETRYABLE_PUT_ERRORS:
        logger.warning("EventBridge refused the event for now; will retry", extra={"code": code})
        return False
    logger.error("EventBridge refused the event permanently", extra={"code": code,
                                                                      "message": failed.get("ErrorMessage")})
    return True


def emit_call_event(settings: Settings, workspace_id: str, event_type: str, call_doc: dict[str, Any], *,
                    dedupe_key: Optional[str] = None, queues: Optional[JobQueues] = None) -> dict[str, Any]:
    """Store one event for ``call_doc`` and queue its fan-out (webhooks and the bus); returns the event.

    Args:
        settings: The deployment's settings (table, bus, queues).
        workspace_id: The call's workspace.
        event_type: One of :data:`EVENT_TYPES`.
        call_doc: The call document as it is after the state change (becomes ``data.object``).
        dedupe_key: Names the state change: every emit with the same key yields the same event.
            Default ``"<call id>:<event type>"``; pass your own when one call can emit a type
            more than once (e.g. ``call.completed`` after a re-extraction).
        queues: The job queues to use (default: one shared per deployment target).

    Raises:
        ValueError: an unknown ``event_type``.
        Exception: storing the event or enqueueing its fan-out failed; retry the emit (same key).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}")
    bind_store(settings)
    key = dedupe_key or f"{call_doc['id']}:{event_type}"
    record, created = event_store.insert_event(workspace_id, build_event(event_type, call_doc), dedupe_key=key)
    event = record.doc
    if not record.fanned_out:
        (queues or job_queues(settings)).send(
            "webhooks", {"kind": FAN_OUT_JOB, "workspace_id": workspace_id, "event_id": event["id"]})
    get_logger("events").info("event emitted" if created else "event already emitted",
                              extra={"event_id": event["id"], "type": event_type, "call_id": call_doc.get("id")})
    return event


# -- the /v1/events API --------------------------------------------------------------------------


def expect_no_fields(body: Any) -> None:
    """For POSTs that take no parameters: ``{}`` or nothing; any field is a 400 ``unknown_field``."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_body")
    for name in body:
        raise InvalidRequest(f"unknown field {name!r}", code="unknown_field", param=str(name))


def list_events(scope: Scope, *, type: Optional[str], limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/events``: newest first, optionally one ``type``."""
    if type is not None and type not in EVENT_TYPES:
        raise InvalidRequest(f"type must be one of {', '.join(EVENT_TYPES)}", param="type")
    return event_store.list_events(scope.workspace_id, type=type, limit=limit, cursor=cursor)


def get_event(scope: Scope, event_id: str) -> dict[str, Any]:
    """``GET /v1/events/{id}``: the event plus ``deliveries`` (each with every attempt)."""
    from .store import deliveries as delivery_store

    record = event_store.get_event(scope.workspace_id, event_id)
    event = record.doc
    event["deliveries"] = [d.public() for d in delivery_store.list_deliveries(scope.workspace_id, event_id)]
    return event


def redeliver_event(scope: Scope, event_id: str, *, queues: Optional[JobQueues] = None) -> dict[str, Any]:
    """``POST /v1/events/{id}/redeliver``: every destination gets the event again (same id and body),
    with a fresh retry window; an event with no delivery yet is fanned out to today's endpoints."""
    from .delivery.base import redeliver

    event_store.get_event(scope.workspace_id, event_id)  # 404 first
    redeliver(scope.settings, scope.workspace_id, event_id, queues=queues or job_queues(scope.settings))
    return get_event(scope, event_id)
