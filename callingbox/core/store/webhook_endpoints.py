"""Webhook endpoints and the workspace's ``webhook_url`` signing secret.

Secrets are kept in their own attributes, never in the stored document, so reads and lists can
return the document as is without ever exposing a secret. Edits are conditional on the version
read (a concurrent edit makes the caller re-read and retry: :class:`VersionConflict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from ..errors import NotFound
from ..pagination import Page, decode_cursor, encode_cursor
from .conditions import VersionConflict, is_condition_failure
from .items import WebhookEndpointItem, WebhookSecretItem, ws_key

__all__ = [
    "EndpointRecord",
    "SigningSecrets",
    "insert_endpoint",
    "get_endpoint",
    "list_endpoints",
    "all_endpoints",
    "update_endpoint",
    "delete_endpoint",
    "count_endpoints",
    "get_workspace_secret",
    "put_workspace_secret",
]

_PREFIX = "we#"
_SECRET_SK = "webhook_secret"


@dataclass
class SigningSecrets:
    """The current secret and, during a rotation's overlap, the previous one with its expiry."""

    secret: str
    previous_secret: Optional[str] = None
    previous_secret_expires_at: Optional[int] = None

    def valid(self, now: float) -> list[str]:
        """The secrets that sign a delivery at ``now``, newest first."""
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            keys.append(self.previous_secret)
        return keys


@dataclass
class EndpointRecord:
    """A stored endpoint: its public document, its secrets and the version a write must match."""

    raw: str
    secrets: SigningSecrets
    version: int

    @property
    def doc(self) -> dict[str, Any]:
        """The parsed public document (no secret)."""
        return json.loads(self.raw)


def _record(item: WebhookEndpointItem) -> EndpointRecord:
    return EndpointRecord(item.doc, SigningSecrets(item.secret, item.previous_secret,
                                                   item.previous_secret_expires_at), int(item.version))


def insert_endpoint(workspace_id: str, doc: dict[str, Any], secrets: SigningSecrets) -> EndpointRecord:
    """Store a new endpoint (its id must be new)."""
    raw = json.dumps(doc)
    WebhookEndpointItem(ws_key(workspace_id), _PREFIX + doc["id"], doc=raw, version=1, secret=secrets.secret,
                        previous_secret=secrets.previous_secret,
                        previous_secret_expires_at=secrets.previous_secret_expires_at,
                        ).save(condition=WebhookEndpointItem.pk.does_not_exist())
    return EndpointRecord(raw, secrets, 1)


def get_endpoint(workspace_id: str, endpoint_id: str) -> EndpointRecord:
    """The endpoint, or :class:`NotFound`."""
    try:
        item = WebhookEndpointItem.get(ws_key(workspace_id), _PREFIX + endpoint_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", param="webhook_endpoint_id") from None
    return _record(item)


def list_endpoints(workspace_id: str, *, limit: int, cursor: Optional[str]) -> Page:
    """Endpoints newest first (ids are time-sortable)."""
    after = decode_cursor(cursor, prefix=_PREFIX)
    condition = WebhookEndpointItem.sk.between(_PREFIX, after) if after else WebhookEndpointItem.sk.startswith(_PREFIX)
    items = WebhookEndpointItem.query(ws_key(workspace_id), range_key_condition=condition, scan_index_forward=False,
                                      limit=limit + 2, page_size=max(limit + 2, 25),
                                      attributes_to_get=[WebhookEndpointItem.sk.attr_name,
                                                         WebhookEndpointItem.doc.attr_name])
    found = [item for item in items if item.sk != after]
    kept = found[:limit]
    has_more = len(found) > limit
    return Page([item.doc for item in kept], has_more, encode_cursor(kept[-1].sk) if has_more and kept else None)


def all_endpoints(workspace_id: str) -> list[EndpointRecord]:
    """Every endpoint of the workspace, with secrets (the fan-out's read; a workspace has few)."""
    items = WebhookEndpointItem.query(ws_key(workspace_id),
                                      range_key_condition=WebhookEndpointItem.sk.startswith(_PREFIX))
    return [_record(item) for item in items]


def count_endpoints(workspace_id: str) -> int:
    """How many endpoints the workspace has."""
    return WebhookEndpointItem.count(ws_key(workspace_id),
                                     range_key_condition=WebhookEndpointItem.sk.startswith(_PREFIX))


def update_endpoint(workspace_id: str, doc: dict[str, Any], secrets: SigningSecrets, *,
                    expected_version: int) -> EndpointRecord:
    """Save an edited endpoint if nobody wrote it since it was read."""
    raw = json.dumps(doc)
    actions = [
        WebhookEndpointItem.doc.set(raw),
        WebhookEndpointItem.version.set(expected_version + 1),
        WebhookEndpointItem.secret.set(secrets.secret),
        WebhookEndpointItem.previous_secret.set(secrets.previous_secret) if secrets.previous_secret
        else WebhookEndpointItem.previous_secret.remove(),
        WebhookEndpointItem.previous_secret_expires_at.set(secrets.previous_secret_expires_at)
        if secrets.previous_secret_expires_at else WebhookEndpointItem.previous_secret_expires_at.remove(),
    ]
    try:
        WebhookEndpointItem(ws_key(workspace_id), _PREFIX + doc["id"]).update(
            actions=actions, condition=WebhookEndpointItem.version == expected_version)
    except UpdateError as error:
        if is_condition_failure(error):
            raise VersionConflict() from error
        raise
    return EndpointRecord(raw, secrets, expected_version + 1)


def delete_endpoint(workspace_id: str, endpoint_id: str) -> None:
    """Remove the endpoint; pending deliveries to it end at their next attempt."""
    try:
        WebhookEndpointItem(ws_key(workspace_id), _PREFIX + endpoint_id).delete(
            condition=WebhookEndpointItem.pk.exists())
    except DeleteError as error:
        if is_condition_failure(error):
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", param="webhook_endpoint_id") from None
        raise


def get_workspace_secret(workspace_id: str) -> Optional[tuple[SigningSecrets, int]]:
    """The workspace's ``webhook_url`` signing secrets and when they were first made, if made yet."""
    try:
        item = WebhookSecretItem.get(ws_key(workspace_id), _SECRET_SK, consistent_read=True)
    except DoesNotExist:
        return None
    return SigningSecrets(item.secret, item.previous_secret, item.previous_secret_expires_at), int(item.created)


def put_workspace_secret(workspace_id: str, secrets: SigningSecrets, *, created: int,
                         replacing: Optional[str]) -> bool:
    """Write the workspace secret: only if absent (``replacing`` None) or still ``replacing``.

    Returns False when someone else created or rotated it first; the caller reads theirs.
    """
    item = WebhookSecretItem(ws_key(workspace_id), _SECRET_SK, secret=secrets.secret,
                             previous_secret=secrets.previous_secret,
                             previous_secret_expires_at=secrets.previous_secret_expires_at, created=created)
    condition = (WebhookSecretItem.pk.does_not_exist() if replacing is None
                 else WebhookSecretItem.secret == replacing)
    try:
        item.save(condition=condition)
    except PutError as error:
        if is_condition_failure(error):
            return False
        raise
    return True
