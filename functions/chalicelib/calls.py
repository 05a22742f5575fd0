"""Routes: /v1/calls (seeds 000, 002)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from callingbox.core import calls
from callingbox.core.errors import NotImplementedYet
from callingbox.core.pagination import parse_limit

from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


@routes.operation("calls.create")
def create(request: Request) -> Any:
    return calls.create_call(request.scope, request.body, queues=request.queues)


@routes.operation("calls.list")
def list_(request: Request) -> Any:
    filters = calls.parse_filters(request.query)
    return calls.list_calls(request.scope, filters, limit=parse_limit(request.query.get("limit")),
                            cursor=request.query.get("cursor"))


@routes.operation("calls.retrieve")
def retrieve(request: Request) -> Any:
    return calls.get_call(request.scope, request.path["call_id"]).raw


@routes.operation("calls.cancel")
def cancel(request: Request) -> Any:
    return calls.cancel_call(request.scope, request.path["call_id"])


@routes.operation("calls.hangup")
def hangup(request: Request) -> Any:
    return calls.hangup_call(request.scope, request.path["call_id"])


@routes.operation("calls.transcript")
def transcript(request: Request) -> Any:
    calls.get_call(request.scope, request.path["call_id"])
    raise NotImplementedYet("transcripts are written by the voice gateway, which this deployment does not run yet")
