"""Where the stream-token signing key comes from.

The code that signs stream tokens (the inbound voice webhook and the dialer, through
:func:`callingbox.core.telephony.stream_twiml`) takes the key from :func:`stream_token_key`:

1. ``CALLINGBOX_STREAM_TOKEN_SECRET``, the key itself: the local stack, the tests, and the voice
   gateway (its ECS task gets the secret's value in that variable);
2. else the Secrets Manager secret named by ``CALLINGBOX_SIGNING_SECRET_ARN``, whose value is the
   key as a plain string (the deployed Lambda functions): read on first use and kept for the life
   of the process, like the Twilio credentials (:mod:`callingbox.core.carrier.credentials`).

Examples:
    token = sign_stream_token(stream_token_key(settings), workspace_id=ws, call_id=call_id)

Limitations:
    A rotated secret reaches a warm process only when it restarts (the gateway reads its key at
    task start too, so the two change together on ``cdk deploy``).
"""

from __future__ import annotations

from typing import Optional

from .errors import ServiceUnavailable
from .secret_values import forget_cached_secret_strings, secret_string
from .settings import Settings

__all__ = ["stream_token_key", "StreamTokenKeyNotConfigured", "forget_cached_keys"]

class StreamTokenKeyNotConfigured(ServiceUnavailable):
    """No stream-token key in this deployment: retrying will not help until someone sets one."""

    code = "stream_token_key_not_configured"

    @property
    def should_retry(self) -> Optional[bool]:
        return False


def _key_from_secret(settings: Settings, arn: str) -> bytes:
    value = secret_string(settings, arn, what="the stream-token key's secret",
                          unavailable_code="stream_token_key_unavailable")
    if not value:
        raise StreamTokenKeyNotConfigured("the stream-token key's secret (CALLINGBOX_SIGNING_SECRET_ARN) is empty "
                                          "or binary; it must hold the key as a plain string")
    return value.encode()


def stream_token_key(settings: Settings) -> bytes:
    """The HMAC key stream tokens are signed with (see the module docstring for where it comes from).

    Raises:
        StreamTokenKeyNotConfigured: neither ``CALLINGBOX_STREAM_TOKEN_SECRET`` nor
            ``CALLINGBOX_SIGNING_SECRET_ARN`` is set, or the secret is empty (503, not retryable).
        ServiceUnavailable: ``stream_token_key_unavailable``, the secret cannot be read right now.
    """
    if settings.stream_token_secret:
        return settings.stream_token_secret.encode()
    arn = settings.signing_secret_arn
    if not arn:
        raise StreamTokenKeyNotConfigured("no stream-token key is configured: set CALLINGBOX_STREAM_TOKEN_SECRET, "
                                          "or CALLINGBOX_SIGNING_SECRET_ARN to a secret holding it")
    return _key_from_secret(settings, arn)


def forget_cached_keys() -> None:
    """Drop the keys read so far (tests; a rotated secret is picked up by new processes)."""
    forget_cached_secret_strings()
