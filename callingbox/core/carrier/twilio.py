"""The Twilio adapter of the carrier port, built on the official ``twilio`` SDK's transport.

The requests themselves are issued by :mod:`.twilio_rest` (the same URLs, parameter names and
errors as ``twilio.rest.Client``, without its 4 MB of generated resources, which the Lambda bundles
leave out for the API bundle's size goal); authentication, headers, the HTTP client and the
exceptions are the SDK's. The SDK is imported when a :class:`TwilioCarrier` is built, never when
this module is: the API imports the carrier package on every cold start and most requests never
talk to Twilio.

**Pointing the SDK elsewhere.** Every REST URL is built from Twilio's fixed base URL
(``https://api.twilio.com``) and handed, finished and absolute, to the SDK's ``HttpClient``. The one
place that sees every request, including the ``next_page_uri`` links of list pages, is therefore
the HTTP client: :func:`rebased_http_client` returns a ``TwilioHttpClient`` whose ``request`` swaps
the scheme and host (and prefixes the base path) before sending. With ``api_base_url=None`` the
stock client is used and requests go to Twilio.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from .base import AvailableNumber, Carrier, CarrierError, DialRequest, OwnedNumber

__all__ = ["TwilioCarrier", "rebased_http_client", "rebase_url", "STATUS_CALLBACK_EVENTS"]

# Every status the call state machine listens to (Twilio sends only the ones asked for).
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")
# Seconds one REST request may take. A dial whose answer is lost to this timeout may still have
# reached Twilio; the dialer settles that with ``find_call`` instead of dialing again.
REQUEST_TIMEOUT_S = 15.0
# How many recent calls between one pair of numbers ``find_call`` looks through.
FIND_CALL_SCAN = 50
# Twilio's "call is not in a state that can be updated" (it already ended): hanging up such a call
# has nothing left to do.
CALL_ALREADY_ENDED = "21220"


def rebase_url(url: str, base_url: str) -> str:
    """``url`` with its scheme and host replaced by ``base_url``'s (whose path, if any, is prefixed)."""
    target = urlsplit(base_url)
    parts = urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, target.path.rstrip("/") + parts.path, parts.query,
                       parts.fragment))


@lru_cache(maxsize=1)
def _rebased_client_class() -> type:
    from twilio.http.http_client import TwilioHttpClient

    class RebasedHttpClient(TwilioHttpClient):
        """``TwilioHttpClient`` that sends every request to ``base_url`` instead of ``*.twilio.com``."""

        def __init__(self, base_url: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.base_url = base_url

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            return super().request(method, rebase_url(url, self.base_url), *args, **kwargs)

    return RebasedHttpClient


def rebased_http_client(base_url: str, *, timeout: float = REQUEST_TIMEOUT_S) -> Any:
    """A twilio-python ``HttpClient`` whose requests all go to ``base_url`` (e.g. the local stand-in)."""
    return _rebased_client_class()(base_url, timeout=timeout)


def _capabilities(raw: Optional[Mapping[str, Any]]) -> dict[str, bool]:
    # Twilio spells them "SMS"/"MMS" on available numbers and "sms"/"mms" on owned ones.
    lowered = {str(key).lower(): bool(value) for key, value in (raw or {}).items()}
    return {"voice": lowered.get("voice", True), "sms": lowered.get("sms", False)}


@contextmanager
def _carrier_errors(action: str) -> Iterator[None]:
    """Turn the SDK's and the transport's exceptions into :class:`CarrierError`."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

    try:
        yield
    except (TwilioRestException, TwilioServiceException) as error:
        status = int(error.status) if error.status else None
        message = getattr(error, "msg", None) or getattr(error, "detail", None) or getattr(error, "title", "")
        raise CarrierError(f"Twilio refused to {action}: {message}", code=str(error.code) if error.code else None,
                           status=status, retryable=status is None or status >= 500 or status == 429) from error
    except RequestException as error:
        raise CarrierError(f"could not reach Twilio to {action}: {error}", retryable=True) from error
    except TwilioException as error:
        # List pages raise a bare TwilioException("Unable to fetch page", response) for any status
        # but 200, error body and all: read Twilio's code and message out of that response.
        raise _from_page_error(error, action) from error


def _from_page_error(error: Exception, action: str) -> CarrierError:
    response = error.args[1] if len(error.args) > 1 else None
    status = getattr(response, "status_code", None)
    if status is None:
        return CarrierError(f"Twilio failed to {action}: {error}", retryable=True)
    try:
        body = json.loads(response.text)
    except (TypeError, ValueError):
        body = {}
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = body.get("message") or f"HTTP {status}"
    return CarrierError(f"Twilio refused to {action}: {message}", code=str(code) if code else None,
                        status=int(status), retryable=int(status) >= 500 or int(status) == 429)


class TwilioCarrier(Carrier):
    """The carrier port over Twilio's REST API (or anything that speaks it, given ``api_base_url``).

    Parameters:
        account_sid, auth_token: the account's credentials (HTTP Basic auth on every request).
        api_base_url: send every request here instead of ``https://api.twilio.com`` (the local
            Twilio stand-in, ``http://127.0.0.1:PORT``); ``None`` for the real Twilio.

    Every method blocks and raises :class:`CarrierError` on failure.
    """

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *, api_base_url: Optional[str] = None) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioCarrier needs an account sid and an auth token")
        from twilio.http.http_client import TwilioHttpClient

        from .twilio_rest import TwilioRest

        http_client = (rebased_http_client(api_base_url) if api_base_url
                       else TwilioHttpClient(timeout=REQUEST_TIMEOUT_S))
        self._rest = TwilioRest(account_sid, auth_token, http_client=http_client)
        self.api_base_url = api_base_url

    # -- calls ------------------------------------------------------------------------------------

    def dial(self, request: DialRequest) -> str:
        """``POST /Calls.json`` with inline TwiML, the four status events and, if asked, async AMD."""
        form: dict[str, Any] = {
            "To": request.to,
            "From": request.from_,
            "StatusCallback": request.status_callback_url,
            "StatusCallbackEvent": list(STATUS_CALLBACK_EVENTS),  # a repeated field
            "StatusCallbackMethod": "POST",
            "Timeout": request.ring_timeout_s,
        }
        if request.amd_callback_url:
            form.update({
                "MachineDetection": "DetectMessageEnd",
                "AsyncAmd": "true",
                "AsyncAmdStatusCallback": request.amd_callback_url,
                "AsyncAmdStatusCallbackMethod": "POST",
            })
        if request.time_limit_s is not None:
            form["TimeLimit"] = request.time_limit_s
        form["Twiml"] = request.twiml
        with _carrier_errors("place the call"):
            call = self._rest.create("Calls.json", form)
        return str(call["sid"])

    def hang_up(self, call_sid: str) -> None:
        """``Status=completed``, which Twilio documents as ending the call in any state (a queued or
        ringing call is canceled, a live one hung up); ``canceled`` would leave live calls alone.
        A call that already ended is not an error."""
        try:
            with _carrier_errors("hang up the call"):
                self._rest.update(f"Calls/{call_sid}.json", {"Status": "completed"})
        except CarrierError as error:
            if error.code != CALL_ALREADY_ENDED:
                raise

    def redirect(self, call_sid: str, twiml: str) -> None:
        """Replace the call's TwiML (``Twiml=``); the current ``<Connect><Stream>`` ends."""
        with _carrier_errors("redirect the call"):
            self._rest.update(f"Calls/{call_sid}.json", {"Twiml": twiml})

    def find_call(self, *, to: str, from_: str, started_after: int) -> Optional[str]:
        """The newest call ``from_`` → ``to`` whose ``date_created`` is at or after ``started_after``.

        Filtered by ``To``/``From`` at Twilio and by creation time here: Twilio's ``StartTime``
        filter has day granularity and skips calls still queued (their ``start_time`` is empty),
        which is exactly the call a lost dial may have left behind.
        """
        from twilio.base.deserialize import rfc2822_datetime

        cutoff = datetime.fromtimestamp(started_after, tz=timezone.utc)
        with _carrier_errors("list calls"):
            calls = self._rest.list("Calls.json", "calls", {"To": to, "From": from_, "PageSize": FIND_CALL_SCAN},
                                    limit=FIND_CALL_SCAN)
        for call in calls:
            created = rfc2822_datetime(call.get("date_created"))  # Twilio's RFC 2822 dates, as the SDK parses them
            if created is not None and created >= cutoff:
                return str(call["sid"])
        return None

    # -- numbers ----------------------------------------------------------------------------------

    def search_available(self, *, country: str = "US", area_code: Optional[str] = None,
                         limit: int = 20) -> list[AvailableNumber]:
        """Local numbers on offer (``AvailablePhoneNumbers/{country}/Local.json``)."""
        query: dict[str, Any] = {}
        if area_code:
            query["AreaCode"] = int(area_code)
        query["PageSize"] = limit
        with _carrier_errors("search available numbers"):
            records = self._rest.list(f"AvailablePhoneNumbers/{country}/Local.json", "available_phone_numbers",
                                      query, limit=limit)
        return [
            AvailableNumber(number=str(record.get("phone_number")), locality=record.get("locality") or None,
                            region=record.get("region") or None, country=record.get("iso_country") or country,
                            capabilities=_capabilities(record.get("capabilities")))
            for record in records
        ]

    @staticmethod
    def _owned(record: Mapping[str, Any]) -> OwnedNumber:
        return OwnedNumber(number=str(record.get("phone_number")), carrier_sid=str(record.get("sid")),
                           capabilities=_capabilities(record.get("capabilities")))

    def buy(self, number: str, *, voice_url: str, status_callback_url: str) -> OwnedNumber:
        """``POST /IncomingPhoneNumbers.json`` with the platform's voice and status webhooks."""
        with _carrier_errors(f"buy {number}"):
            record = self._rest.create("IncomingPhoneNumbers.json", {
                "StatusCallback": status_callback_url, "StatusCallbackMethod": "POST",
                "VoiceMethod": "POST", "VoiceUrl": voice_url, "PhoneNumber": number,
            })
        return self._owned(record)

    def adopt(self, carrier_sid: str, number: str, *, voice_url: str, status_callback_url: str) -> OwnedNumber:
        """Fetch ``carrier_sid``, check it is ``number``, then point its webhooks at the platform.

        Fetching first means a wrong sid never has its voice URL taken over.
        """
        path = f"IncomingPhoneNumbers/{carrier_sid}.json"
        with _carrier_errors(f"find number {carrier_sid}"):
            current = self._rest.fetch(path)
        if current.get("phone_number") != number:
            raise CarrierError(f"{carrier_sid} is {current.get('phone_number')} at the carrier, not {number}",
                               code="number_mismatch", status=400)
        with _carrier_errors(f"configure {number}"):
            record = self._rest.update(path, {
                "FriendlyName": number, "StatusCallback": status_callback_url, "StatusCallbackMethod": "POST",
                "VoiceMethod": "POST", "VoiceUrl": voice_url,
            })
        return self._owned(record)

    def release(self, carrier_sid: str) -> None:
        """``DELETE /IncomingPhoneNumbers/{sid}.json``."""
        with _carrier_errors(f"release number {carrier_sid}"):
            self._rest.delete(f"IncomingPhoneNumbers/{carrier_sid}.json")
