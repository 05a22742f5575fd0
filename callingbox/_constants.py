"""Numbers the SDK runs on, in one place: defaults, retry timing and environment variable names."""

from __future__ import annotations

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "IDEMPOTENCY_KEY_PREFIX",
    "IDEMPOTENT_METHODS",
    "WEBHOOK_SECRET_ENV",
    "WEBHOOK_TOLERANCE",
    "SIGNATURE_HEADER",
    "EVENT_ID_HEADER",
]

API_KEY_ENV = "CALLINGBOX_API_KEY"
"""Environment variable read when ``api_key`` is not passed to the client."""

BASE_URL_ENV = "CALLINGBOX_BASE_URL"
"""Environment variable read when ``base_url`` is not passed to the client."""

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where ``callingbox dev`` serves the local stack."""

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for each HTTP attempt (connect, read, write and pool)."""

DEFAULT_MAX_RETRIES = 2
"""Retries after the first attempt, so at most three attempts per call."""

INITIAL_RETRY_DELAY = 0.5
"""Seconds before the first retry when the server gives no ``Retry-After``; doubles each time."""

MAX_RETRY_DELAY = 8.0
"""Ceiling of the exponential backoff, in seconds."""

MAX_RETRY_AFTER = 60.0
"""The longest ``Retry-After`` (seconds) the SDK obeys; a longer one falls back to backoff."""

IDEMPOTENCY_KEY_PREFIX = "cbk_"
"""Prefix of the ``Idempotency-Key`` values the SDK generates."""

IDEMPOTENT_METHODS = frozenset({"POST", "PATCH", "DELETE"})
"""Methods that get an ``Idempotency-Key`` header, one per logical call, reused on every retry."""

WEBHOOK_SECRET_ENV = "CALLINGBOX_WEBHOOK_SECRET"
"""Environment variable read by :func:`callingbox.webhooks.verify` when no ``secret`` is passed."""

WEBHOOK_TOLERANCE = 300
"""Seconds a webhook signature's timestamp may differ from now before it counts as a replay."""

SIGNATURE_HEADER = "CallingBox-Signature"
"""Header of a webhook delivery holding ``t=<unix>,v1=<hex>[,v1=<hex>…]``."""

EVENT_ID_HEADER = "CallingBox-Event-Id"
"""Header of a webhook delivery holding the ``evt_…`` id (the same on every retry: dedupe on it)."""
