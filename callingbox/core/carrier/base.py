"""The carrier port: everything CallingBox asks of the phone network, as one small abstract class.

One real adapter implements it: :class:`~callingbox.core.carrier.twilio.TwilioCarrier`, built on the
Twilio SDK. In the local stack the same adapter talks to the local Twilio stand-in
(:mod:`callingbox.local.carrier`), so no second adapter exists to drift. Test doubles live in
``tests/``.

Every method is blocking (the callers are Lambda handlers and worker threads) and raises
:class:`CarrierError` with the carrier's own reason on failure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["Carrier", "CarrierError", "DialRequest", "AvailableNumber", "OwnedNumber"]


class CarrierError(Exception):
    """The carrier refused or failed a request.

    ``code`` is the carrier's error code as a string (Twilio's numeric codes, e.g. ``"21217"``),
    ``status`` the HTTP status it answered with, ``retryable`` whether trying again later may work
    (5xx, 429, connection errors) as opposed to a refusal (invalid number, unverified caller id).
    """

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None,
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retryable = retryable

    @property
    def reason(self) -> str:
        """The ``end_reason`` of a call this error failed: ``error:carrier_<code>`` or ``error:carrier``."""
        return f"error:carrier_{self.code}" if self.code else "error:carrier"


@dataclass(frozen=True)
class DialRequest:
    """One outbound call as the carrier needs it.

    ``twiml`` is the document the carrier runs once the callee answers (a ``<Connect><Stream>``).
    ``status_callback_url`` receives initiated, ringing, answered and completed; ``amd_callback_url``
    (when set) turns on asynchronous answering-machine detection with ``DetectMessageEnd``.
    """

    to: str
    from_: str
    twiml: str
    status_callback_url: str
    amd_callback_url: Optional[str] = None
    ring_timeout_s: int = 30
    time_limit_s: Optional[int] = None


@dataclass(frozen=True)
class AvailableNumber:
    """A number the carrier offers for purchase."""

    number: str
    locality: Optional[str] = None
    region: Optional[str] = None
    country: str = "US"
    capabilities: dict[str, bool] = field(default_factory=lambda: {"voice": True, "sms": False})


@dataclass(frozen=True)
class OwnedNumber:
    """A number the account holds at the carrier."""

    number: str
    carrier_sid: str
    capabilities: dict[str, bool] = field(default_factory=lambda: {"voice": True, "sms": False})


class Carrier(ABC):
    """What the platform needs from a carrier (see the module docstring)."""

    name: str = "carrier"

    @abstractmethod
    def dial(self, request: DialRequest) -> str:
        """Place a call; returns the carrier's call sid."""

    @abstractmethod
    def hang_up(self, call_sid: str) -> None:
        """End a call whatever its state (ringing calls are canceled, live ones completed)."""

    @abstractmethod
    def redirect(self, call_sid: str, twiml: str) -> None:
        """Replace the TwiML a live call is running (ends its current media stream)."""

    @abstractmethod
    def find_call(self, *, to: str, from_: str, started_after: int) -> Optional[str]:
        """The sid of a call to ``to`` from ``from_`` created at or after ``started_after`` (unix s), if any.

        The dialer's way to learn whether a dial whose outcome it lost (worker died mid-request)
        reached the carrier, so that it never dials twice.
        """

    @abstractmethod
    def search_available(self, *, country: str = "US", area_code: Optional[str] = None,
                         limit: int = 20) -> list[AvailableNumber]:
        """Numbers on offer."""

    @abstractmethod
    def buy(self, number: str, *, voice_url: str, status_callback_url: str) -> OwnedNumber:
        """Buy ``number`` and point its voice webhook at the platform."""

    @abstractmethod
    def adopt(self, carrier_sid: str, number: str, *, voice_url: str, status_callback_url: str) -> OwnedNumber:
        """Take over a number the account already owns (import) and point it at the platform.

        ``number`` is the E.164 number the customer says ``carrier_sid`` is: a sid of another
        number is refused (``code="number_mismatch"``) before anything at the carrier changes, and
        an unknown sid is a :class:`CarrierError` with ``status=404``.
        """

    @abstractmethod
    def release(self, carrier_sid: str) -> None:
        """Give the number back to the carrier; an unknown sid is a :class:`CarrierError` with ``status=404``."""
