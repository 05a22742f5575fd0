"""Short-lived signed tokens that authenticate a media stream to the voice gateway.

The TwiML that connects a call carries the token as a ``<Parameter>``; the gateway verifies it
before it loads anything. Format: ``v1.<base64url payload>.<hex HMAC-SHA256 of payload>``, the
payload being ``{"ws": workspace id, "call": call id, "exp": unix seconds}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

__all__ = ["StreamClaims", "InvalidStreamToken", "sign_stream_token", "verify_stream_token", "DEFAULT_TTL_S"]

# Long enough for ringing plus answering-machine detection, short enough that a leaked TwiML
# document is useless soon after.
DEFAULT_TTL_S = 300


class InvalidStreamToken(Exception):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True)
class StreamClaims:
    """Who the stream is for."""

    workspace_id: str
    call_id: str
    expires_at: int


def _sign(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def sign_stream_token(secret: bytes, *, workspace_id: str, call_id: str, ttl_s: int = DEFAULT_TTL_S,
                      now: float | None = None) -> str:
    """A token for one call's media stream."""
    expires = int((time.time() if now is None else now) + ttl_s)
    body = json.dumps({"ws": workspace_id, "call": call_id, "exp": expires}, separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"v1.{encoded}.{_sign(secret, encoded.encode())}"


def verify_stream_token(secret: bytes, token: str, *, now: float | None = None) -> StreamClaims:
    """The claims of a valid, unexpired token; otherwise :class:`InvalidStreamToken`."""
    try:
        version, encoded, signature = token.split(".")
    except (ValueError, AttributeError):
        raise InvalidStreamToken("malformed token") from None
    if version != "v1" or not hmac.compare_digest(signature, _sign(secret, encoded.encode())):
        raise InvalidStreamToken("bad signature")
    try:
        claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        result = StreamClaims(str(claims["ws"]), str(claims["call"]), int(claims["exp"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidStreamToken("malformed claims") from None
    if result.expires_at < (time.time() if now is None else now):
        raise InvalidStreamToken("expired")
    return result
