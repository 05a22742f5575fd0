"""Requests the network makes to applications, signed as Twilio signs them.

Every webhook carries ``X-Twilio-Signature``: ``RequestValidator(auth_token).compute_signature(url,
params)`` over the exact URL requested and the form parameters (for GET the parameters go in the
query string and the signature covers the whole URL with no parameters), as Twilio documents.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Optional
from urllib.parse import urlencode, urlsplit

from .records import CallRecord
from .resources import API_VERSION

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = ["WebhookResult", "Webhooks", "call_parameters", "signature_for"]

logger = logging.getLogger(__name__)

USER_AGENT = "TwilioProxy/1.1"
WEBHOOK_TIMEOUT_S = 15.0  # Twilio's default for voice webhooks


def signature_for(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` with form ``params``."""
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token).compute_signature(url, dict(params))


def _place(number: str) -> dict[str, str]:
    # Twilio adds the caller's and callee's geography; the local network only knows the country.
    country = "US" if number.startswith("+1") else ""
    return {"City": "", "Country": country, "State": "", "Zip": ""}


def call_parameters(call: CallRecord, *, status: Optional[str] = None) -> dict[str, str]:
    """The parameters Twilio sends in every voice request about ``call``."""
    params = {
        "AccountSid": call.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call.sid,
        "CallStatus": status or call.status,
        "Called": call.to,
        "Caller": call.from_,
        "Direction": call.direction,
        "From": call.from_,
        "To": call.to,
    }
    for prefix, number in (("Called", call.to), ("Caller", call.from_), ("From", call.from_), ("To", call.to)):
        params.update({prefix + key: value for key, value in _place(number).items()})
    if call.parent_call_sid:
        params["ParentCallSid"] = call.parent_call_sid
    if call.answered_by:
        params["AnsweredBy"] = call.answered_by
    return params


@dataclass(frozen=True)
class WebhookResult:
    """What an application answered (``status`` 0 when the request failed outright)."""

    status: int
    body: str
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Webhooks:
    """Signed requests to applications, over one shared ``aiohttp`` session."""

    def __init__(self, session: "aiohttp.ClientSession", auth_token: str, *,
                 timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
        self._session = session
        self._auth_token = auth_token
        self._timeout_s = timeout_s

    async def request(self, url: str, params: Mapping[str, str], *, method: str = "POST") -> WebhookResult:
        """Send ``params`` to ``url`` signed; never raises for network errors (``status`` 0)."""
        import aiohttp

        method = method.upper()
        params = {key: str(value) for key, value in params.items()}
        if method == "GET":
            separator = "&" if urlsplit(url).query else "?"
            target, body = (f"{url}{separator}{urlencode(params)}" if params else url), None
            signature = signature_for(self._auth_token, target, {})
        else:
            target, body = url, params
            signature = signature_for(self._auth_token, url, params)
        headers = {"X-Twilio-Signature": signature, "User-Agent": USER_AGENT,
                   "I-Twilio-Idempotency-Token": str(uuid.uuid4())}
        try:
            async with self._session.request(method, target, data=body, headers=headers,
                                             timeout=aiohttp.ClientTimeout(total=self._timeout_s)) as response:
                return WebhookResult(response.status, await response.text())
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            logger.info("webhook %s %s failed: %s", method, url, error)
            return WebhookResult(0, "", f"{type(error).__name__}: {error}")
