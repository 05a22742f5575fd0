"""Routes: /v1/events (API.md, events): list, retrieve with delivery attempts, redeliver."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from callingbox.core import events
from callingbox.core.events import expect_no_fields
from callingbox.core.pagination import parse_limit

from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


@routes.operation("events.list")
def list_(request: Request) -> Any:
    return events.list_events(request.scope, type=request.query.get("type"),
                              limit=parse_limit(request.query.get("limit")), cursor=request.query.get("cursor"))


@routes.operation("events.retrieve")
def retrieve(request: Request) -> Any:
    return events.get_event(request.scope, request.path["event_id"])


@routes.operation("events.redeliver")
def redeliver(request: Request) -> Any:
    expect_no_fields(request.body)
    return events.redeliver_event(request.scope, request.path["event_id"], queues=request.queues)
