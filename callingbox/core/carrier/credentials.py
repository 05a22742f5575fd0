"""Where the Twilio credentials come from, and the carrier built from them.

Deployed, the account sid and auth token live in a Secrets Manager secret (JSON
``{"account_sid", "auth_token"}``) named by ``CALLINGBOX_TWILIO_SECRET_ARN``; it is read once per
process and kept. Locally they come from ``TWILIO_ACCOUNT_SID`` / ``TWILIO_AUTH_TOKEN`` (the local
Twilio stand-in's), and ``CALLINGBOX_TWILIO_API_URL`` sends the SDK to the stand-in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ..errors import ServiceUnavailable
from ..secret_values import forget_cached_secret_strings, secret_string
from ..settings import Settings

if TYPE_CHECKING:
    from .base import Carrier

__all__ = [
    "TwilioCredentials",
    "CarrierNotConfigured",
    "carrier_configured",
    "credentials_from_settings",
    "auth_token_from_settings",
    "carrier_from_settings",
    "forget_cached_secrets",
]


@dataclass(frozen=True)
class TwilioCredentials:
    """An account sid and its auth token."""

    account_sid: str
    auth_token: str


class CarrierNotConfigured(ServiceUnavailable):
    """No carrier credentials in this deployment: retrying will not help until someone sets them."""

    code = "carrier_not_configured"

    @property
    def should_retry(self) -> Optional[bool]:
        return False


def carrier_configured(settings: Settings) -> bool:
    """Whether ``settings`` name any carrier credentials (without fetching a secret)."""
    return bool(settings.twilio_secret_arn or (settings.twilio_account_sid and settings.twilio_auth_token))


def _credentials_from_secret(settings: Settings, arn: str) -> TwilioCredentials:
    value = secret_string(settings, arn, what="the Twilio credentials secret",
                          unavailable_code="carrier_credentials_unavailable")
    try:
        values = json.loads(value)
        credentials = TwilioCredentials(str(values["account_sid"]), str(values["auth_token"]))
    except (KeyError, TypeError, ValueError) as error:
        raise CarrierNotConfigured('the Twilio credentials secret must be JSON {"account_sid": …, '
                                   '"auth_token": …}') from error
    if not credentials.account_sid or not credentials.auth_token:
        raise CarrierNotConfigured("the Twilio credentials secret has an empty account_sid or auth_token")
    return credentials


def credentials_from_settings(settings: Settings) -> TwilioCredentials:
    """The Twilio credentials: the secret when one is named (fetched once per process), else the env.

    Raises :class:`CarrierNotConfigured` when there are none, :class:`ServiceUnavailable`
    (``carrier_credentials_unavailable``) when the secret cannot be read right now.
    """
    arn = settings.twilio_secret_arn
    if arn:
        return _credentials_from_secret(settings, arn)
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return TwilioCredentials(settings.twilio_account_sid, settings.twilio_auth_token)
    raise CarrierNotConfigured("no carrier is configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or "
                               "CALLINGBOX_TWILIO_SECRET_ARN")


def auth_token_from_settings(settings: Settings) -> str:
    """The auth token that Twilio's webhook signatures are checked with."""
    return credentials_from_settings(settings).auth_token


def carrier_from_settings(settings: Settings) -> "Carrier":
    """A :class:`~callingbox.core.carrier.twilio.TwilioCarrier` for ``settings`` (imports the SDK)."""
    from .twilio import TwilioCarrier

    credentials = credentials_from_settings(settings)
    return TwilioCarrier(credentials.account_sid, credentials.auth_token,
                         api_base_url=settings.twilio_api_base_url or None)


def forget_cached_secrets() -> None:
    """Drop the secrets read so far (tests; a rotated secret is picked up by new processes)."""
    forget_cached_secret_strings()
