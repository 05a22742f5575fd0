"""Test doubles for the telephony tests: a carrier that records what it is asked (the port's only
double; the real adapter talks to Twilio), a spy on the job queues (the real SQS send still
happens), and a signed-webhook client that signs exactly as Twilio does (RequestValidator)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from callingbox.core.carrier.base import AvailableNumber, Carrier, CarrierError, DialRequest, OwnedNumber
from callingbox.core.queues import JobQueues


class WorkerDied(BaseException):
    """Simulates the worker process dying at that point (nothing below it runs; not an Exception)."""


@dataclass
class Dialed:
    """One call the fake carrier accepted."""

    at: float
    request: DialRequest
    sid: str


@dataclass
class FakeCarrier(Carrier):
    """Records dials, hang-ups and redirects; refuses or 'kills the worker' on request."""

    name: str = "fake"
    dials: list[Dialed] = field(default_factory=list)
    hangups: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)
    refuse_with: Optional[CarrierError] = None
    before_dial: Optional[Callable[[DialRequest], None]] = None
    after_dial: Optional[Callable[[DialRequest, str], None]] = None
    dial_delay_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def dial(self, request: DialRequest) -> str:
        if self.before_dial is not None:
            self.before_dial(request)
        if self.refuse_with is not None:
            error, self.refuse_with = self.refuse_with, None
            raise error
        if self.dial_delay_s:
            time.sleep(self.dial_delay_s)
        sid = "CA" + uuid.uuid4().hex
        with self._lock:
            self.dials.append(Dialed(time.time(), request, sid))
        if self.after_dial is not None:
            self.after_dial(request, sid)
        return sid

    def hang_up(self, call_sid: str) -> None:
        self.hangups.append(call_sid)

    def redirect(self, call_sid: str, twiml: str) -> None:
        self.redirects.append((call_sid, twiml))

    def find_call(self, *, to: str, from_: str, started_after: int) -> Optional[str]:
        with self._lock:
            for dialed in self.dials:
                if dialed.request.to == to and dialed.request.from_ == from_ and dialed.at >= started_after:
                    return dialed.sid
        return None

    def search_available(self, *, country: str = "US", area_code: Optional[str] = None,
                         limit: int = 20) -> list[AvailableNumber]:
        raise CarrierError("not offered by the fake carrier")

    def buy(self, number: str, *, voice_url: str, status_callback_url: str) -> OwnedNumber:
        raise CarrierError("not offered by the fake carrier")

    def adopt(self, carrier_sid: str, *args: Any, **kwargs: Any) -> OwnedNumber:
        raise CarrierError("not offered by the fake carrier")

    def release(self, carrier_sid: str) -> None:
        raise CarrierError("not offered by the fake carrier")

    def dials_to(self, to: str) -> list[Dialed]:
        """The dials placed to ``to``."""
        with self._lock:
            return [dialed for dialed in self.dials if dialed.request.to == to]


class RecordingQueues(JobQueues):
    """The real SQS queues, remembering every job sent (delays make reading them back slow)."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.sent: list[tuple[str, dict[str, Any], int]] = []

    def send(self, queue: str, body: Mapping[str, Any], *, delay_seconds: int = 0) -> str:
        message_id = super().send(queue, body, delay_seconds=delay_seconds)
        self.sent.append((queue, dict(body), delay_seconds))
        return message_id

    def jobs(self, queue: str, call_id: str) -> list[tuple[dict[str, Any], int]]:
        """The jobs sent to ``queue`` for ``call_id`` (body, delay)."""
        return [(body, delay) for name, body, delay in self.sent if name == queue and body.get("call_id") == call_id]


class TwilioWebhooks:
    """Posts form-encoded carrier webhooks to the API, signed as Twilio signs them."""

    def __init__(self, base_url: str, auth_token: str) -> None:
        import httpx

        self.base_url = base_url
        self.auth_token = auth_token
        self._http = httpx.Client(base_url=base_url, timeout=30)

    def sign(self, path: str, params: Mapping[str, str], *, token: Optional[str] = None) -> str:
        from twilio.request_validator import RequestValidator

        return str(RequestValidator(token or self.auth_token).compute_signature(self.base_url + path, dict(params)))

    def post(self, path: str, params: Mapping[str, str], *, signature: Optional[str] = "sign",
             token: Optional[str] = None) -> Any:
        """POST ``params``; ``signature="sign"`` signs them, ``None`` sends no header, anything else is sent as is."""
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
        if signature == "sign":
            signature = self.sign(path, params, token=token)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self._http.post(path, data=dict(params), headers=headers)

    def close(self) -> None:
        self._http.close()
