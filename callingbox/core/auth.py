"""Bearer API keys to workspaces, with a short in-process cache for warm Lambdas."""

from __future__ import annotations

import threading
import time
from typing import Optional

from .api_keys import hash_key, looks_like_key
from .errors import Unauthenticated
from .store.workspaces import workspace_for_key

__all__ = ["KeyResolver", "bearer_token"]


def bearer_token(header: Optional[str]) -> str:
    """The key in an ``Authorization: Bearer <key>`` header, or :class:`Unauthenticated`."""
    if not header:
        raise Unauthenticated("no API key: send 'Authorization: Bearer <api key>'", code="missing_api_key")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <api key>'", code="invalid_authorization")
    return token.strip()


class KeyResolver:
    """Finds a key's workspace; remembers answers for ``ttl_s`` (revocation takes that long to bite)."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def workspace(self, key: str) -> str:
        """The workspace of ``key``, or :class:`Unauthenticated`."""
        if not looks_like_key(key):
            raise Unauthenticated("invalid API key")
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        workspace_id = workspace_for_key(key)
        if workspace_id is None:
            raise Unauthenticated("invalid API key")
        with self._lock:
            self._cache[digest] = (now + self._ttl_s, workspace_id)
        return workspace_id
