"""Prefixed, time-sortable ids (``call_01JD...``).

The body is a ULID in lower-case Crockford base32: 10 characters of millisecond time then 16 of
randomness, so ids sort by creation time as plain strings. DynamoDB sort keys built from ids
therefore give newest-first lists for free, and a time bound becomes an id bound.
"""

from __future__ import annotations

import os
import time

__all__ = ["new_id", "id_floor", "id_ceiling", "has_prefix", "PREFIXES"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 10
_RANDOM_CHARS = 16

PREFIXES = frozenset({"agent", "pn", "call", "evt", "we", "rule", "msg", "ws", "key", "req"})


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A fresh id such as ``call_01jd3x...``; ``now_ms`` pins the time part (tests, backfills)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    randomness = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, _TIME_CHARS)}{_encode(randomness, _RANDOM_CHARS)}"


def id_floor(prefix: str, unix_seconds: int) -> str:
    """The smallest id of ``prefix`` created at or after ``unix_seconds``."""
    return f"{prefix}_{_encode(max(unix_seconds, 0) * 1000, _TIME_CHARS)}{'0' * _RANDOM_CHARS}"


def id_ceiling(prefix: str, unix_seconds: int) -> str:
    """The largest id of ``prefix`` created within second ``unix_seconds`` (inclusive bound)."""
    return f"{prefix}_{_encode(max(unix_seconds, 0) * 1000 + 999, _TIME_CHARS)}{'z' * _RANDOM_CHARS}"


def has_prefix(value: str, prefix: str) -> bool:
    """True when ``value`` looks like an id of ``prefix``."""
    return value.startswith(prefix + "_") and len(value) > len(prefix) + 1
