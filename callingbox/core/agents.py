"""Agent rules: defaults, validation, number attachment and archiving (seeds 000, 001, 003)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from .clock import now_s
from .errors import Conflict, InvalidRequest
from .ids import new_id
from .pagination import Page
from .returns_schema import check_json_schema, validate_returns
from .scope import Scope
from .store import agents as agent_store
from .store import numbers as number_store
from .store.agents import AgentRecord, NumberChanges
from .store.conditions import VersionConflict
from .urls import check_customer_url
from .validation import parse_params

__all__ = [
    "create_agent",
    "get_agent",
    "list_agents",
    "update_agent",
    "archive_agent",
    "attach_number",
    "detach_number",
    "set_primary_number",
]

if TYPE_CHECKING:
    from ..types.agent import AgentCreateParams

# How often an edit is re-read and re-applied when concurrent edits keep winning the race.
MAX_ATTEMPTS = 8


def _models() -> Any:
    """The request models, loaded by the first write: reads never need pydantic."""
    from ..types import agent

    return agent


def _check_rules(params: "AgentCreateParams", scope: Scope) -> None:
    """The rules pydantic cannot see: schemas, URLs, and numbers that must exist."""
    validate_returns(params.returns)
    for position, tool in enumerate(params.tools):
        check_json_schema(tool.parameters, param=f"tools.{position}.parameters")
    insecure = scope.settings.allow_insecure_urls
    check_customer_url(params.tool_url, param="tool_url", allow_insecure=insecure)
    check_customer_url(params.webhook_url, param="webhook_url", allow_insecure=insecure)
    for number_id in params.number_ids:
        number_store.get_number(scope.workspace_id, number_id)


def _document(params: "AgentCreateParams", scope: Scope, *, agent_id: str, created: int) -> dict[str, Any]:
    settings = scope.settings
    doc: dict[str, Any] = {"id": agent_id, "object": "agent", **params.model_dump(mode="json")}
    doc.update(
        persona=params.persona or _models().DEFAULT_PERSONA,
        voice=params.voice or settings.default_voice,
        llm_model=params.llm_model or settings.default_llm_model,
        stt_model=params.stt_model or settings.default_stt_model,
        tts_model=params.tts_model or settings.default_tts_model,
        primary_number_id=params.primary_number_id or (params.number_ids[0] if params.number_ids else None),
        archived=False,
        created=created,
        updated=now_s(),
    )
    return doc


def _number_changes(agent_type: str, added: list[str], removed: list[str], workspace_id: str,
                    agent_id: str) -> NumberChanges:
    if agent_type != "inbound":
        return NumberChanges(require=list(added))
    released = [number_id for number_id in removed
                if number_store.get_number(workspace_id, number_id).doc["inbound_agent_id"] == agent_id]
    return NumberChanges(claim=list(added), release=released)


def create_agent(scope: Scope, body: Any) -> dict[str, Any]:
    """``POST /v1/agents``: an inbound agent starts answering its numbers at once."""
    params = parse_params(_models().AgentCreateParams, body)
    _check_rules(params, scope)
    now = now_s()
    doc = _document(params, scope, agent_id=new_id("agent"), created=now)
    changes = _number_changes(params.type, params.number_ids, [], scope.workspace_id, doc["id"])
    return agent_store.write_agent(scope.workspace_id, doc, expected_version=None, numbers=changes).doc


def get_agent(scope: Scope, agent_id: str) -> dict[str, Any]:
    """``GET /v1/agents/{id}``."""
    return agent_store.get_agent(scope.workspace_id, agent_id).doc


def list_agents(scope: Scope, *, type: Optional[str], archived: Optional[bool], limit: int,
                cursor: Optional[str]) -> Page:
    """``GET /v1/agents``."""
    if type is not None and type not in ("inbound", "outbound"):
        raise InvalidRequest("type must be inbound or outbound", param="type")
    return agent_store.list_agents(scope.workspace_id, type=type, archived=archived, limit=limit, cursor=cursor)


def _edit(scope: Scope, agent_id: str, edit: Callable[[AgentRecord], Optional[dict[str, Any]]]) -> dict[str, Any]:
    """Read, change and conditionally write an agent, again on a lost race."""
    for _ in range(MAX_ATTEMPTS):
        record = agent_store.get_agent(scope.workspace_id, agent_id)
        proposed = edit(record)
        if proposed is None:
            return record.doc
        before, after = set(record.doc["number_ids"]), proposed["number_ids"]
        added = [number_id for number_id in after if number_id not in before]
        removed = [number_id for number_id in record.doc["number_ids"] if number_id not in set(after)]
        if proposed["archived"] and not record.doc["archived"]:
            removed = list(record.doc["number_ids"])
        changes = _number_changes(proposed["type"], added, removed, scope.workspace_id, agent_id)
        proposed["updated"] = now_s()
        try:
            return agent_store.write_agent(scope.workspace_id, proposed, expected_version=record.version,
                                           numbers=changes).doc
        except VersionConflict:
            continue
    raise Conflict("the agent is being edited concurrently; retry", code="concurrent_update", permanent=False)


def _refuse_archived(record: AgentRecord) -> None:
    if record.doc["archived"]:
        raise Conflict(f"agent {record.doc['id']} is archived and cannot be changed", code="agent_archived",
                       param="agent_id", permanent=True)


def update_agent(scope: Scope, agent_id: str, body: Any) -> dict[str, Any]:
    """``PATCH /v1/agents/{id}``: sent fields replace stored ones; ``type`` never changes."""
    if isinstance(body, dict) and "type" in body:
        raise InvalidRequest("type is fixed when an agent is created", code="immutable_field", param="type")
    models = _models()
    sent = parse_params(models.AgentUpdateParams, body).model_dump(mode="json", exclude_unset=True)
    settable = [name for name in models.AgentCreateParams.model_fields if name != "type"]

    def edit(record: AgentRecord) -> dict[str, Any]:
        _refuse_archived(record)
        current = record.doc
        merged = {name: current.get(name) for name in settable}
        merged.update(sent)
        if "number_ids" in sent and "primary_number_id" not in sent:
            if merged["primary_number_id"] not in merged["number_ids"]:
                merged["primary_number_id"] = None
        # Nulls in the stored defaults mean "use the default" again, as at creation.
        params = parse_params(models.AgentCreateParams, {**{k: v for k, v in merged.items() if v is not None
                                                     or k in sent}, "type": current["type"]})
        _check_rules(params, scope)
        return _document(params, scope, agent_id=agent_id, created=current["created"])

    return _edit(scope, agent_id, edit)


def archive_agent(scope: Scope, agent_id: str) -> dict[str, Any]:
    """``POST /v1/agents/{id}/archive``: no new calls, answers no number; calls stay."""

    def edit(record: AgentRecord) -> Optional[dict[str, Any]]:
        if record.doc["archived"]:
            return None
        return {**record.doc, "archived": True}

    return _edit(scope, agent_id, edit)


def attach_number(scope: Scope, agent_id: str, body: Any) -> dict[str, Any]:
    """``POST /v1/agents/{id}/numbers``: 409 when another inbound agent answers the number."""
    params = parse_params(_models().AttachNumberParams, body)
    number_store.get_number(scope.workspace_id, params.number_id)

    def edit(record: AgentRecord) -> Optional[dict[str, Any]]:
        _refuse_archived(record)
        doc = dict(record.doc)
        numbers = list(doc["number_ids"])
        already = params.number_id in numbers
        if not already:
            numbers.append(params.number_id)
        primary = params.number_id if params.set_as_primary or not doc["primary_number_id"] else doc["primary_number_id"]
        if already and primary == doc["primary_number_id"]:
            return None
        doc.update(number_ids=numbers, primary_number_id=primary)
        return doc

    return _edit(scope, agent_id, edit)


def detach_number(scope: Scope, agent_id: str, number_id: str) -> dict[str, Any]:
    """``DELETE /v1/agents/{id}/numbers/{number_id}``; detaching a number not attached changes nothing."""

    def edit(record: AgentRecord) -> Optional[dict[str, Any]]:
        doc = dict(record.doc)
        if number_id not in doc["number_ids"]:
            return None
        numbers = [existing for existing in doc["number_ids"] if existing != number_id]
        primary = doc["primary_number_id"]
        if primary == number_id:
            primary = numbers[0] if numbers else None
        doc.update(number_ids=numbers, primary_number_id=primary)
        return doc

    return _edit(scope, agent_id, edit)


def set_primary_number(scope: Scope, agent_id: str, body: Any) -> dict[str, Any]:
    """``POST /v1/agents/{id}/primary_number``: the number must already be attached."""
    params = parse_params(_models().SetPrimaryNumberParams, body)

    def edit(record: AgentRecord) -> Optional[dict[str, Any]]:
        _refuse_archived(record)
        if params.number_id not in record.doc["number_ids"]:
            raise InvalidRequest(f"number {params.number_id!r} is not attached to this agent; attach it first",
                                 code="number_not_attached", param="number_id")
        if record.doc["primary_number_id"] == params.number_id:
            return None
        return {**record.doc, "primary_number_id": params.number_id}

    return _edit(scope, agent_id, edit)
