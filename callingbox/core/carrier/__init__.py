"""The carrier port (:mod:`.base`) and its Twilio adapter (:mod:`.twilio`, imported lazily)."""

from .base import AvailableNumber, Carrier, CarrierError, DialRequest, OwnedNumber

__all__ = ["AvailableNumber", "Carrier", "CarrierError", "DialRequest", "OwnedNumber"]
