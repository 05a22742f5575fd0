"""Routes: /v1/transcripts (search across calls; seed 004)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


@routes.operation("transcripts.search")
def search(request: Request) -> Any:
    from callingbox.core.transcript_search import search_transcripts

    return search_transcripts(request.scope, request.query)
