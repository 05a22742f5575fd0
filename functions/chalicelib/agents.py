"""Routes: /v1/agents (seeds 000, 001, 003)."""

from __future__ import annotations

from typing import Any, Optional

from chalice import Blueprint

from callingbox.core import agents, calls
from callingbox.core.errors import InvalidRequest
from callingbox.core.pagination import parse_limit

from .routing import Request, Routes

bp = Blueprint(__name__)
routes = Routes(bp)


def _flag(raw: Optional[str], param: str) -> Optional[bool]:
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidRequest(f"{param} must be true or false", code="invalid_type", param=param)


@routes.operation("agents.create")
def create(request: Request) -> Any:
    return agents.create_agent(request.scope, request.body)


@routes.operation("agents.list")
def list_(request: Request) -> Any:
    query = request.query
    return agents.list_agents(request.scope, type=query.get("type"), archived=_flag(query.get("archived"), "archived"),
                              limit=parse_limit(query.get("limit")), cursor=query.get("cursor"))


@routes.operation("agents.retrieve")
def retrieve(request: Request) -> Any:
    return agents.get_agent(request.scope, request.path["agent_id"])


@routes.operation("agents.update")
def update(request: Request) -> Any:
    return agents.update_agent(request.scope, request.path["agent_id"], request.body)


@routes.operation("agents.archive")
def archive(request: Request) -> Any:
    return agents.archive_agent(request.scope, request.path["agent_id"])


@routes.operation("agents.attach_number")
def attach_number(request: Request) -> Any:
    return agents.attach_number(request.scope, request.path["agent_id"], request.body)


@routes.operation("agents.detach_number")
def detach_number(request: Request) -> Any:
    return agents.detach_number(request.scope, request.path["agent_id"], request.path["number_id"])


@routes.operation("agents.set_primary_number")
def set_primary_number(request: Request) -> Any:
    return agents.set_primary_number(request.scope, request.path["agent_id"], request.body)


@routes.operation("agents.list_calls")
def list_calls(request: Request) -> Any:
    agent_id = request.path["agent_id"]
    agents.get_agent(request.scope, agent_id)
    query = {name: value for name, value in request.query.items() if name != "agent_id"}
    filters = calls.parse_filters(query, agent_id=agent_id)
    return calls.list_calls(request.scope, filters, limit=parse_limit(query.get("limit")), cursor=query.get("cursor"))
