"""Workspaces and their API keys (kept only as hashes)."""

from __future__ import annotations

import json
from typing import Optional

from pynamodb.exceptions import DoesNotExist

from ..api_keys import generate_key, hash_key
from ..clock import now_s
from ..ids import new_id
from .binding import transaction
from .items import ApiKeyItem, WorkspaceItem, ws_key

__all__ = ["create_workspace", "issue_api_key", "workspace_for_key"]


def _key_item(workspace_id: str, secret: str, now: int) -> ApiKeyItem:
    return ApiKeyItem(
        f"key#{hash_key(secret)}", "key",
        workspace_id=workspace_id, key_id=new_id("key"), last4=secret[-4:], created=now,
    )


def create_workspace(name: str) -> tuple[dict[str, object], str]:
    """A new workspace and its first API key; the key is returned once and never stored."""
    now = now_s()
    workspace = {"id": new_id("ws"), "object": "workspace", "name": name, "created": now}
    secret = generate_key()
    with transaction() as write:
        write.save(
            WorkspaceItem(ws_key(str(workspace["id"])), "workspace", doc=json.dumps(workspace)),
            condition=WorkspaceItem.pk.does_not_exist(),
        )
        write.save(_key_item(str(workspace["id"]), secret, now), condition=ApiKeyItem.pk.does_not_exist())
    return workspace, secret


def issue_api_key(workspace_id: str) -> str:
    """Another key for an existing workspace."""
    secret = generate_key()
    _key_item(workspace_id, secret, now_s()).save(condition=ApiKeyItem.pk.does_not_exist())
    return secret


def workspace_for_key(secret: str) -> Optional[str]:
    """The workspace a presented key belongs to, or ``None`` (unknown or revoked)."""
    try:
        item = ApiKeyItem.get(f"key#{hash_key(secret)}", "key")
    except DoesNotExist:
        return None
    return None if item.revoked else item.workspace_id
