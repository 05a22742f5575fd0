"""The carrier port (:mod:`.base`), where its credentials come from (:mod:`.credentials`), and the
Twilio pieces that import the SDK only when used: the adapter (:mod:`.twilio`), TwiML documents
(:mod:`.twiml`) and webhook signatures (:mod:`.signatures`).

Importing this package never imports ``twilio``; ``TwilioCarrier`` is resolved on first access.
"""

from typing import Any

from .base import AvailableNumber, Carrier, CarrierError, DialRequest, OwnedNumber
from .credentials import (
    CarrierNotConfigured,
    auth_token_from_settings,
    carrier_configured,
    carrier_from_settings,
)

__all__ = [
    "AvailableNumber",
    "Carrier",
    "CarrierError",
    "CarrierNotConfigured",
    "DialRequest",
    "OwnedNumber",
    "TwilioCarrier",
    "auth_token_from_settings",
    "carrier_configured",
    "carrier_from_settings",
]


def __getattr__(name: str) -> Any:
    if name == "TwilioCarrier":
        from .twilio import TwilioCarrier

        return TwilioCarrier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
