"""Webhook endpoints (``/v1/webhook_endpoints``) and the workspace's ``webhook_url`` secret.

An endpoint receives every event its ``events`` filter names (``["*"]``: all of them), signed
with its own secret. The secret is returned once, by the request that creates it (create, or
``PATCH`` with ``rotate_secret: true``). A rotation keeps the previous secret signing beside the
new one for :data:`ROTATION_OVERLAP_S`, so each delivery carries two ``v1`` values and a receiver
can switch secrets without missing one.

Deliveries to an agent's or call's ``webhook_url`` are signed with the workspace's secret
(``GET /v1/webhook_secret``, rotated the same way with ``POST /v1/webhook_secret/rotate``).
"""

from __future__ import annotations

from typing import Any, Optional

from .clock import now_s
from .errors import Conflict, InvalidRequest
from .ids import new_id
from .pagination import Page
from .scope import Scope
from .signing import new_secret
from .store import webhook_endpoints as store
from .store.conditions import VersionConflict
from .store.webhook_endpoints import SigningSecrets
from .urls import check_customer_url
from .validation import parse_params

__all__ = [
    "create_endpoint",
    "get_endpoint",
    "list_endpoints",
    "update_endpoint",
    "delete_endpoint",
    "workspace_secret",
    "rotate_workspace_secret",
    "workspace_signing_secrets",
    "subscribes",
    "ROTATION_OVERLAP_S",
    "MAX_ENDPOINTS",
]

# How long a rotated-out secret keeps signing: a day to deploy the new one everywhere.
ROTATION_OVERLAP_S = 24 * 3600
# Each endpoint is one more delivery per event; a bound keeps one event's fan-out small.
MAX_ENDPOINTS = 16
# Re-reads when concurrent edits keep winning the version race.
MAX_ATTEMPTS = 8
_NOT_NULL = ("url", "events", "enabled")


def _models() -> Any:
    from ..types import webhook_endpoint

    return webhook_endpoint


def subscribes(doc: dict[str, Any], event_type: str) -> bool:
    """True when the endpoint is enabled and its filter takes ``event_type``."""
    events = doc.get("events") or []
    return bool(doc.get("enabled", True)) and ("*" in events or event_type in events)


def _rotated(secrets: SigningSecrets, now: int) -> SigningSecrets:
    return SigningSecrets(new_secret(), previous_secret=secrets.secret,
                          previous_secret_expires_at=now + ROTATION_OVERLAP_S)


def create_endpoint(scope: Scope, body: Any) -> dict[str, Any]:
    """``POST /v1/webhook_endpoints``: the response is the only one that shows ``secret``."""
    params = parse_params(_models().WebhookEndpointCreateParams, body)
    check_customer_url(params.url, param="url", allow_insecure=scope.settings.allow_insecure_urls)
    if store.count_endpoints(scope.workspace_id) >= MAX_ENDPOINTS:
        raise InvalidRequest(f"a workspace has at most {MAX_ENDPOINTS} webhook endpoints; delete one first",
                             code="endpoint_limit_reached", param="url")
    now = now_s()
    doc: dict[str, Any] = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "url": params.url,
        "events": params.events,
        "enabled": params.enabled,
        "description": params.description,
        "metadata": params.metadata,
        "previous_secret_expires_at": None,
        "created": now,
        "updated": now,
    }
    secrets = SigningSecrets(new_secret())
    store.insert_endpoint(scope.workspace_id, doc, secrets)
    return {**doc, "secret": secrets.secret}


def get_endpoint(scope: Scope, endpoint_id: str) -> str:
    """``GET /v1/webhook_endpoints/{id}``: the stored document (no secret)."""
    return store.get_endpoint(scope.workspace_id, endpoint_id).raw


def list_endpoints(scope: Scope, *, limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/webhook_endpoints``: newest first, no secrets."""
    return store.list_endpoints(scope.workspace_id, limit=limit, cursor=cursor)


def update_endpoint(scope: Scope, endpoint_id: str, body: Any) -> dict[str, Any]:
    """``PATCH /v1/webhook_endpoints/{id}``: sent fields replace stored ones; ``rotate_secret`` rotates."""
    params = parse_params(_models().WebhookEndpointUpdateParams, body)
    sent = params.model_dump(mode="json", exclude_unset=True)
    rotate = bool(sent.pop("rotate_secret", False))
    for name in _NOT_NULL:
        if name in sent and sent[name] is None:
            raise InvalidRequest(f"{name} cannot be null", code="invalid_value", param=name)
    if "metadata" in sent and sent["metadata"] is None:
        sent["metadata"] = {}
    if "url" in sent:
        check_customer_url(sent["url"], param="url", allow_insecure=scope.settings.allow_insecure_urls)
    for _ in range(MAX_ATTEMPTS):
        record = store.get_endpoint(scope.workspace_id, endpoint_id)
        now = now_s()
        doc = {**record.doc, **sent, "updated": now}
        secrets = _rotated(record.secrets, now) if rotate else record.secrets
        doc["previous_secret_expires_at"] = secrets.previous_secret_expires_at
        try:
            store.update_endpoint(scope.workspace_id, doc, secrets, expected_version=record.version)
        except VersionConflict:
            continue
        return {**doc, "secret": secrets.secret} if rotate else doc
    raise Conflict("the endpoint is being edited concurrently; retry", code="concurrent_update", permanent=False)


def delete_endpoint(scope: Scope, endpoint_id: str) -> dict[str, Any]:
    """``DELETE /v1/webhook_endpoints/{id}``: no new deliveries; pending ones stop at their next attempt."""
    store.delete_endpoint(scope.workspace_id, endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def workspace_signing_secrets(workspace_id: str) -> tuple[SigningSecrets, int]:
    """The workspace's ``webhook_url`` secrets (made on first use) and when they were made."""
    for _ in range(MAX_ATTEMPTS):
        found = store.get_workspace_secret(workspace_id)
        if found is not None:
            return found
        now = now_s()
        secrets = SigningSecrets(new_secret())
        if store.put_workspace_secret(workspace_id, secrets, created=now, replacing=None):
            return secrets, now
    raise Conflict("the webhook secret is being written concurrently; retry", code="concurrent_update",
                   permanent=False)


def _secret_doc(secrets: SigningSecrets, created: int) -> dict[str, Any]:
    return {"object": "webhook_secret", "secret": secrets.secret,
            "previous_secret_expires_at": secrets.previous_secret_expires_at, "created": created}


def workspace_secret(scope: Scope) -> dict[str, Any]:
    """``GET /v1/webhook_secret``: the secret that signs deliveries to ``webhook_url``s."""
    return _secret_doc(*workspace_signing_secrets(scope.workspace_id))


def rotate_workspace_secret(scope: Scope) -> dict[str, Any]:
    """``POST /v1/webhook_secret/rotate``: a new secret; the old one still signs for 24 hours."""
    for _ in range(MAX_ATTEMPTS):
        current, created = workspace_signing_secrets(scope.workspace_id)
        rotated = _rotated(current, now_s())
        if store.put_workspace_secret(scope.workspace_id, rotated, created=created, replacing=current.secret):
            return _secret_doc(rotated, created)
    raise Conflict("the webhook secret is being rotated concurrently; retry", code="concurrent_update",
                   permanent=False)
