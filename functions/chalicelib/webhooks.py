"""Routes: /v1/webhook_endpoints and /v1/webhook_secret (API.md, webhooks)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from callingbox.core import webhook_endpoints
from callingbox.core.events import expect_no_fields
from callingbox.core.pagination import parse_limit

from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


@routes.operation("webhook_endpoints.create")
def create(request: Request) -> Any:
    return webhook_endpoints.create_endpoint(request.scope, request.body)


@routes.operation("webhook_endpoints.list")
def list_(request: Request) -> Any:
    return webhook_endpoints.list_endpoints(request.scope, limit=parse_limit(request.query.get("limit")),
                                            cursor=request.query.get("cursor"))


@routes.operation("webhook_endpoints.retrieve")
def retrieve(request: Request) -> Any:
    return webhook_endpoints.get_endpoint(request.scope, request.path["webhook_endpoint_id"])


@routes.operation("webhook_endpoints.update")
def update(request: Request) -> Any:
    return webhook_endpoints.update_endpoint(request.scope, request.path["webhook_endpoint_id"], request.body)


@routes.operation("webhook_endpoints.delete")
def delete(request: Request) -> Any:
    return webhook_endpoints.delete_endpoint(request.scope, request.path["webhook_endpoint_id"])


@routes.operation("webhook_secret.retrieve")
def secret(request: Request) -> Any:
    return webhook_endpoints.workspace_secret(request.scope)


@routes.operation("webhook_secret.rotate")
def rotate_secret(request: Request) -> Any:
    expect_no_fields(request.body)
    return webhook_endpoints.rotate_workspace_secret(request.scope)
