"""Routes: the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


@routes.operation("openapi")
def openapi(request: Request) -> Any:
    # Generated on demand: building it costs tens of milliseconds that no other route should pay.
    from callingbox.core.openapi import openapi_json

    return openapi_json()
