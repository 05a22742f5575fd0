"""API keys: generated once, shown once, stored only as a SHA-256 hash.

A key is 32 random bytes, so a fast hash is enough (no password stretching is needed against
brute force of a 256-bit secret), and a lookup stays one GetItem on the hash.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["KEY_PREFIX", "generate_key", "hash_key", "looks_like_key"]

KEY_PREFIX = "cb_live_"


def generate_key() -> str:
    """A new secret API key; return it to the user once and store only :func:`hash_key` of it."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The at-rest form of a key (hex SHA-256)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(key: str) -> bool:
    """Cheap shape check before any lookup."""
    return key.startswith(KEY_PREFIX) and 20 < len(key) < 200
