"""Phone number rules: import, routing settings, filter rules (seeds 001, 004)."""

from __future__ import annotations

from typing import Any, Optional

from .clock import now_s
from .errors import Conflict, InvalidRequest, NotImplementedYet
from .ids import new_id
from .pagination import Page
from .scope import Scope
from .store import numbers as number_store
from .store.conditions import VersionConflict
from .urls import check_customer_url
from .validation import parse_params

__all__ = [
    "number_document",
    "create_number",
    "get_number",
    "list_numbers",
    "update_number",
    "create_rule",
    "list_rules",
    "update_rule",
    "delete_rule",
]

MAX_ATTEMPTS = 8


def _models() -> Any:
    """The request models, loaded by the first write: reads never need pydantic."""
    from ..types import phone_number

    return phone_number
_CARRIER_PENDING = (
    "needs the carrier integration (Twilio or the local carrier), which this deployment does not provide yet"
)


def number_document(number_id: str, e164: str, *, carrier: str, carrier_sid: str) -> dict[str, Any]:
    """A new number's public object, with the routing defaults of seed 004."""
    return {
        "id": number_id,
        "object": "phone_number",
        "number": e164,
        "carrier": carrier,
        "carrier_sid": carrier_sid,
        "capabilities": {"voice": True, "sms": False},
        "inbound_agent_id": None,
        "inbound_mode": "agent",
        "incoming_call_webhook_url": None,
        "filter_mode": "blacklist",
        "status": "active",
        "created": now_s(),
    }


def create_number(scope: Scope, body: Any) -> dict[str, Any]:
    """``POST /v1/numbers``: adopt (``import``) a number the account owns; buying needs the carrier."""
    params = parse_params(_models().NumberCreateParams, body)
    if params.import_ is None:
        raise NotImplementedYet(f"buying a number {_CARRIER_PENDING}; adopt one you own with "
                                '{"import": {"number": ..., "carrier_sid": ...}}', param="number")
    doc = number_document(new_id("pn"), params.import_.number, carrier=scope.settings.carrier,
                          carrier_sid=params.import_.carrier_sid)
    return number_store.insert_number(scope.workspace_id, doc).doc


def available_numbers(scope: Scope) -> None:
    """``GET /v1/numbers/available``: searching needs the carrier."""
    raise NotImplementedYet(f"searching available numbers {_CARRIER_PENDING}")


def release_number(scope: Scope, number_id: str) -> None:
    """``DELETE /v1/numbers/{id}``: releasing needs the carrier."""
    number_store.get_number(scope.workspace_id, number_id)
    raise NotImplementedYet(f"releasing a number {_CARRIER_PENDING}")


def get_number(scope: Scope, number_id: str) -> dict[str, Any]:
    """``GET /v1/numbers/{id}``."""
    return number_store.get_number(scope.workspace_id, number_id).doc


def list_numbers(scope: Scope, *, limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/numbers``."""
    return number_store.list_numbers(scope.workspace_id, limit=limit, cursor=cursor)


def update_number(scope: Scope, number_id: str, body: Any) -> dict[str, Any]:
    """``PATCH /v1/numbers/{id}``: inbound mode, its webhook, and the filter mode."""
    sent = parse_params(_models().NumberUpdateParams, body).model_dump(exclude_unset=True)
    for field in ("inbound_mode", "filter_mode"):
        if field in sent and sent[field] is None:
            raise InvalidRequest(f"{field} cannot be null", code="invalid_type", param=field)
    check_customer_url(sent.get("incoming_call_webhook_url"), param="incoming_call_webhook_url",
                       allow_insecure=scope.settings.allow_insecure_urls)
    for _ in range(MAX_ATTEMPTS):
        record = number_store.get_number(scope.workspace_id, number_id)
        doc = {**record.doc, **sent}
        if doc["inbound_mode"] == "webhook" and not doc.get("incoming_call_webhook_url"):
            raise InvalidRequest("inbound_mode webhook needs incoming_call_webhook_url", code="missing_field",
                                 param="incoming_call_webhook_url")
        try:
            return number_store.update_number(scope.workspace_id, doc, expected_version=record.version).doc
        except VersionConflict:
            continue
    raise Conflict("the number is being edited concurrently; retry", code="concurrent_update", permanent=False)


def create_rule(scope: Scope, number_id: str, body: Any) -> dict[str, Any]:
    """``POST /v1/numbers/{id}/rules``: one live rule per caller number."""
    params = parse_params(_models().RuleCreateParams, body)
    number_store.get_number(scope.workspace_id, number_id)
    now = now_s()
    doc = {
        "id": new_id("rule"),
        "object": "number_rule",
        "number_id": number_id,
        "exact_number": params.exact_number,
        "action": params.action,
        "status": params.status,
        "created": now,
        "updated": now,
    }
    return number_store.insert_rule(scope.workspace_id, doc).doc


def list_rules(scope: Scope, number_id: str, *, status: Optional[str], limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/numbers/{id}/rules``."""
    if status is not None and status not in ("active", "paused", "deleted"):
        raise InvalidRequest("status must be active, paused or deleted", param="status")
    number_store.get_number(scope.workspace_id, number_id)
    return number_store.list_rules(scope.workspace_id, number_id, status=status, limit=limit, cursor=cursor)


def _edit_rule(scope: Scope, number_id: str, rule_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    number_store.get_number(scope.workspace_id, number_id)
    for _ in range(MAX_ATTEMPTS):
        record = number_store.get_rule(scope.workspace_id, number_id, rule_id)
        if record.doc["status"] == "deleted":
            raise Conflict(f"rule {rule_id} is deleted", code="rule_deleted", param="rule_id", permanent=True)
        doc = {**record.doc, **changes, "updated": now_s()}
        try:
            return number_store.update_rule(scope.workspace_id, doc, expected_version=record.version).doc
        except VersionConflict:
            continue
    raise Conflict("the rule is being edited concurrently; retry", code="concurrent_update", permanent=False)


def update_rule(scope: Scope, number_id: str, rule_id: str, body: Any) -> dict[str, Any]:
    """``PATCH /v1/numbers/{id}/rules/{rule_id}``."""
    sent = parse_params(_models().RuleUpdateParams, body).model_dump(exclude_unset=True)
    for field, value in sent.items():
        if value is None:
            raise InvalidRequest(f"{field} cannot be null", code="invalid_type", param=field)
    return _edit_rule(scope, number_id, rule_id, sent)


def delete_rule(scope: Scope, number_id: str, rule_id: str) -> dict[str, Any]:
    """``DELETE /v1/numbers/{id}/rules/{rule_id}``: the rule is kept with ``status: deleted``."""
    return _edit_rule(scope, number_id, rule_id, {"status": "deleted"})
