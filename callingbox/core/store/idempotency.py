"""``Idempotency-Key`` records: the first request with a key runs, every repeat replays its response.

Timeline of two requests racing on one key::

    A: put(in_progress) if absent ──► runs ──► finish(done, response)
    B: put(in_progress) if absent ✗ ──► reads in_progress ──► waits ──► reads done ──► replays A's response

The claim is a conditional put, so exactly one request runs. A key reused with a different body
is a permanent 409. A claim whose owner died is taken over after ``IN_PROGRESS_EXPIRY_S``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

from pynamodb.exceptions import DoesNotExist, PutError

from ..clock import now_s
from ..errors import Conflict
from .items import IdempotencyItem, ws_key

__all__ = ["StoredResponse", "claim", "finish", "release", "RETENTION_S"]

RETENTION_S = 24 * 3600
# An owner that has not finished within this long is presumed dead (a Lambda times out sooner).
IN_PROGRESS_EXPIRY_S = 60
# How long a repeat waits for the owner to finish before answering "still in progress" (409, retryable).
WAIT_FOR_OWNER_S = 10.0
_POLL_S = 0.05

_IN_PROGRESS = "in_progress"
_DONE = "done"


@dataclass(frozen=True)
class StoredResponse:
    """A response to replay."""

    status_code: int
    body: str


def _sort_key(key: str) -> str:
    return f"idem#{key}"


def _is_stale(item: IdempotencyItem, now: int) -> bool:
    return item.state == _IN_PROGRESS and item.claim_expires_at < now


def claim(workspace_id: str, key: str, request_hash: str) -> Optional[StoredResponse]:
    """Claim ``key`` for this request; ``None`` means run it, a response means replay that instead."""
    deadline = time.monotonic() + WAIT_FOR_OWNER_S
    while True:
        now = now_s()
        item = IdempotencyItem(
            ws_key(workspace_id), _sort_key(key),
            request_hash=request_hash, state=_IN_PROGRESS,
            claim_expires_at=now + IN_PROGRESS_EXPIRY_S, expires_at=now + RETENTION_S,
        )
        try:
            item.save(
                condition=IdempotencyItem.pk.does_not_exist()
                | (IdempotencyItem.expires_at < now)
                | ((IdempotencyItem.state == _IN_PROGRESS) & (IdempotencyItem.claim_expires_at < now))
            )
            return None
        except PutError as error:
            if not _is_condition_failure(error):
                raise
        try:
            existing = IdempotencyItem.get(ws_key(workspace_id), _sort_key(key), consistent_read=True)
        except DoesNotExist:
            continue
        if existing.request_hash != request_hash:
            raise Conflict(
                "this Idempotency-Key was already used with a different request body; use a new key",
                code="idempotency_key_reused", param="Idempotency-Key", permanent=True,
            )
        if existing.state == _DONE and existing.response is not None:
            return StoredResponse(int(existing.status_code or 200), existing.response)
        if _is_stale(existing, now):
            continue
        if time.monotonic() >= deadline:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly",
                code="idempotency_request_in_progress", param="Idempotency-Key", permanent=False,
            )
        time.sleep(_POLL_S)


def finish(workspace_id: str, key: str, request_hash: str, response: StoredResponse) -> None:
    """Record the response that repeats of ``key`` will replay (only while we still hold the claim)."""
    now = now_s()
    # A put, not an update: PynamoDB's update always asks for the whole new item back.
    IdempotencyItem(
        ws_key(workspace_id), _sort_key(key),
        request_hash=request_hash, state=_DONE, status_code=response.status_code, response=response.body,
        claim_expires_at=0, expires_at=now + RETENTION_S,
    ).save(condition=(IdempotencyItem.state == _IN_PROGRESS) & (IdempotencyItem.request_hash == request_hash))


def release(workspace_id: str, key: str) -> None:
    """Drop a claim whose request failed on our side, so that a retry runs it again."""
    IdempotencyItem(ws_key(workspace_id), _sort_key(key)).delete()


def _is_condition_failure(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"
