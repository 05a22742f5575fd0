"""The ``CallingBox-Signature`` scheme, shared by the SDK (verifying) and the server (signing).

    CallingBox-Signature: t=1767225600,v1=5257a869…[,v1=…]

``v1`` is the hex HMAC-SHA256, keyed with the endpoint's whole ``whsec_…`` secret, of
``"<t>.<raw body>"``. While a secret is being rotated a delivery carries one ``v1`` per valid
secret, so a receiver holding either the old or the new secret verifies it. Verification compares
in constant time against *every* ``v1`` value and refuses timestamps further than the tolerance
from now (a replayed delivery), in the manner of Stripe's ``WebhookSignature.verify_header``.

Standard library only: ``import callingbox.webhooks`` must stay as light as the rest of the SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Union

from ._exceptions import WebhookVerificationError

__all__ = ["SCHEME", "Secret", "sign", "compute_signature", "parse_header", "verify_header"]

SCHEME = "v1"
"""The only signature scheme so far; a future one would be added beside it, not in its place."""

Secret = Union[str, bytes]
"""A signing secret (``whsec_…``); the whole string, prefix included, is the HMAC key."""


def _key(secret: Secret) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def _body(body: Union[bytes, str]) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")


def compute_signature(secret: Secret, timestamp: int, body: Union[bytes, str]) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    message = str(int(timestamp)).encode("ascii") + b"." + _body(body)
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign(secret: Union[Secret, Sequence[Secret]], body: Union[bytes, str], *, timestamp: int | None = None) -> str:
    """The header value for ``body``: ``t=<unix>,v1=<hex>``, one ``v1`` per secret when several are given.

    Args:
        secret: One secret, or the list of currently valid secrets (newest first) during a rotation.
        body: The exact bytes that will be sent.
        timestamp: Unix seconds to sign with (default: now).
    """
    secrets = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    moment = int(time.time()) if timestamp is None else int(timestamp)
    signatures = ",".join(f"{SCHEME}={compute_signature(item, moment, body)}" for item in secrets)
    return f"t={moment},{signatures}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and every ``v1`` signature of a header; unknown schemes are ignored.

    Raises:
        WebhookVerificationError: no timestamp, a non-numeric one, or no ``v1`` signature.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError("the signature header's timestamp is not a number") from None
        elif name == SCHEME and value:
            signatures.append(value)
    if timestamp is None:
        raise WebhookVerificationError("the signature header has no timestamp (t=…)")
    if not signatures:
        raise WebhookVerificationError(f"the signature header has no {SCHEME} signature")
    return timestamp, signatures


def verify_header(
    body: Union[bytes, str],
    header: str | None,
    secrets: Union[Secret, Sequence[Secret]],
    *,
    tolerance: int | None = 300,
    now: float | None = None,
) -> int:
    """Check that ``header`` signs ``body`` with one of ``secrets`` within ``tolerance`` seconds.

    Args:
        body: The raw request body, exactly as received (before any JSON parsing).
        header: The ``CallingBox-Signature`` header value.
        secrets: The endpoint's secret, or several (e.g. old and new during your own rotation).
        tolerance: Largest allowed distance in seconds between the signed timestamp and now;
            ``None`` or ``0`` disables the check (not recommended: it admits replays).
        now: The current unix time (default: the clock); for tests.

    Returns:
        The signed timestamp.

    Raises:
        WebhookVerificationError: for every failure, with a message saying which.
    """
    if not header:
        raise WebhookVerificationError("the request has no CallingBox-Signature header")
    keys = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
    if not keys or not all(keys):
        raise WebhookVerificationError("no webhook secret to verify with")
    timestamp, signatures = parse_header(header)
    raw = _body(body)
    expected = [compute_signature(key, timestamp, raw) for key in keys]
    # Every pair is compared, none skipped, so the time taken says nothing about which one matched.
    matched = False
    for candidate in signatures:
        for wanted in expected:
            matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), wanted.encode("ascii"))
    if not matched:
        raise WebhookVerificationError("no signature matches the body with this secret")
    if tolerance:
        clock = time.time() if now is None else now
        if abs(clock - timestamp) > tolerance:
            raise WebhookVerificationError(
                f"the signature timestamp is {int(clock - timestamp)} s from now, outside the {tolerance} s tolerance"
            )
    return timestamp
