"""Routes: /v1/numbers and their filter rules (seeds 001, 004)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from callingbox.core import numbers
from callingbox.core.pagination import parse_limit

from . import runtime
from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


@routes.operation("numbers.list")
def list_(request: Request) -> Any:
    return numbers.list_numbers(request.scope, limit=parse_limit(request.query.get("limit")),
                                cursor=request.query.get("cursor"))


@routes.operation("numbers.available")
def available(request: Request) -> Any:
    return numbers.available_numbers(request.scope, country=request.query.get("country"),
                                     area_code=request.query.get("area_code"),
                                     limit=parse_limit(request.query.get("limit")), carrier=runtime.current().carrier)


@routes.operation("numbers.create")
def create(request: Request) -> Any:
    return numbers.create_number(request.scope, request.body, carrier=runtime.current().carrier)


@routes.operation("numbers.retrieve")
def retrieve(request: Request) -> Any:
    return numbers.get_number(request.scope, request.path["number_id"])


@routes.operation("numbers.update")
def update(request: Request) -> Any:
    return numbers.update_number(request.scope, request.path["number_id"], request.body)


@routes.operation("numbers.release")
def release(request: Request) -> Any:
    return numbers.release_number(request.scope, request.path["number_id"], carrier=runtime.current().carrier)


@routes.operation("rules.list")
def list_rules(request: Request) -> Any:
    return numbers.list_rules(request.scope, request.path["number_id"], status=request.query.get("status"),
                              limit=parse_limit(request.query.get("limit")), cursor=request.query.get("cursor"))


@routes.operation("rules.create")
def create_rule(request: Request) -> Any:
    return numbers.create_rule(request.scope, request.path["number_id"], request.body)


@routes.operation("rules.update")
def update_rule(request: Request) -> Any:
    return numbers.update_rule(request.scope, request.path["number_id"], request.path["rule_id"], request.body)


@routes.operation("rules.delete")
def delete_rule(request: Request) -> Any:
    return numbers.delete_rule(request.scope, request.path["number_id"], request.path["rule_id"])
