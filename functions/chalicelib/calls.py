"""Routes: /v1/calls (seeds 000, 002)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from callingbox.core import calls
from callingbox.core.pagination import parse_limit

from . import runtime
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
    record = calls.get_call(request.scope, request.path["call_id"])
    if record.recording_key is None:
        return record.raw  # as stored, unparsed
    from callingbox.core.recordings import presign_recording

    # A fresh short-lived URL on every read; the stored document keeps recording_url null.
    doc = record.doc
    rt = runtime.current()
    doc["recording_url"] = presign_recording(rt.s3(), rt.settings.recordings_bucket, record.recording_key)
    return doc


@routes.operation("calls.cancel")
def cancel(request: Request) -> Any:
    return calls.cancel_call(request.scope, request.path["call_id"], carrier=runtime.current().carrier)


@routes.operation("calls.hangup")
def hangup(request: Request) -> Any:
    return calls.hangup_call(request.scope, request.path["call_id"], carrier=runtime.current().carrier,
                             queues=request.queues)


@routes.operation("calls.transcript")
def transcript(request: Request) -> Any:
    from callingbox.core.store import transcripts

    calls.get_call(request.scope, request.path["call_id"])  # 404 unless the call is the caller's
    # The whole transcript in one list (has_more false): segments are read in seq order.
    return transcripts.list_segments(request.scope.workspace_id, request.path["call_id"])


@routes.operation("calls.extract")
def extract(request: Request) -> Any:
    from callingbox.core.extraction.reextract import request_extraction

    return request_extraction(request.scope, request.path["call_id"], queues=request.queues)
