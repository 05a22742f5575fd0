"""Secrets Manager values the Lambda side reads: fetched once per process, kept for its life.

Used for the Twilio credentials (:mod:`callingbox.core.carrier.credentials`) and the stream-token
key (:mod:`callingbox.core.signing_keys`); each parses the string its own way.

Limitations:
    A rotated secret reaches a warm process only when it restarts.
"""

from __future__ import annotations

import threading

from .errors import ServiceUnavailable
from .settings import Settings

__all__ = ["secret_string", "forget_cached_secret_strings"]

_strings: dict[str, str] = {}
_lock = threading.Lock()


def secret_string(settings: Settings, arn: str, *, what: str, unavailable_code: str) -> str:
    """The ``SecretString`` of secret ``arn`` ("" when it has none), read on first use.

    Raises:
        ServiceUnavailable: ``unavailable_code``, when the secret cannot be read right now (not
            cached: the next call tries again). ``what`` names the secret in the message.
    """
    with _lock:
        if arn not in _strings:
            _strings[arn] = _read(settings, arn, what=what, unavailable_code=unavailable_code)
        return _strings[arn]


def _read(settings: Settings, arn: str, *, what: str, unavailable_code: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws_clients import create_client

    client = create_client(
        "secretsmanager", region_name=settings.region, endpoint_url=settings.aws_endpoint_url,
    )
    try:
        secret = client.get_secret_value(SecretId=arn)
    except (BotoCoreError, ClientError) as error:
        raise ServiceUnavailable(f"cannot read {what}: {error}", code=unavailable_code) from error
    return str(secret.get("SecretString") or "")


def forget_cached_secret_strings() -> None:
    """Drop every value read so far (tests)."""
    with _lock:
        _strings.clear()
