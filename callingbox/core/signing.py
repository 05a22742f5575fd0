"""``CallingBox-Signature`` for the server side: signing webhook deliveries (and, later, tool calls).

One implementation serves both sides. It lives in the SDK (:mod:`callingbox._signature`,
standard library only) because receivers verify with ``callingbox.webhooks.verify`` and the SDK
never imports the core; the core imports it from there.

Examples:
    header = sign(["whsec_new", "whsec_old"], body)          # during a rotation: two v1 values
    verify_header(body, header, "whsec_old", tolerance=300)  # -> the signed timestamp

Limitations:
    The secret is used as the HMAC key as is (prefix included); secrets are random, so no key
    derivation is needed.
"""

from __future__ import annotations

import secrets as _random

from .._exceptions import WebhookVerificationError
from .._signature import compute_signature, parse_header, sign, verify_header

__all__ = [
    "sign",
    "verify_header",
    "compute_signature",
    "parse_header",
    "new_secret",
    "WebhookVerificationError",
    "SIGNATURE_HEADER",
    "EVENT_ID_HEADER",
    "SECRET_PREFIX",
]

SIGNATURE_HEADER = "CallingBox-Signature"
EVENT_ID_HEADER = "CallingBox-Event-Id"
SECRET_PREFIX = "whsec_"
# 32 random bytes: as strong as the HMAC-SHA256 key can use.
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` plus 43 url-safe characters."""
    return SECRET_PREFIX + _random.token_urlsafe(_SECRET_BYTES)
