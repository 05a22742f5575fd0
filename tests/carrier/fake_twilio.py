"""A loopback HTTP server that answers like Twilio's REST API (2010-04-01) for the resources the
adapter uses: Calls, IncomingPhoneNumbers and AvailablePhoneNumbers/{country}/Local.

This is the test double at the true edge (the real Twilio REST API). Bodies follow the shapes in
Twilio's API reference (Call, IncomingPhoneNumber, AvailablePhoneNumberLocal list with page
metadata, and the error body ``{"code", "message", "more_info", "status"}``). Every request is
recorded with its decoded form fields (repeated keys kept) and Basic-auth credentials, so tests
assert what the SDK really sent.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

API = "/2010-04-01"
_ids = itertools.count(1)


def _sid(prefix: str) -> str:
    return f"{prefix}{next(_ids):032x}"


def _rfc2822(moment: Optional[datetime] = None) -> str:
    return format_datetime(moment or datetime.now(timezone.utc), usegmt=False).replace("-0000", "+0000")


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    auth: Optional[tuple[str, str]]
    headers: dict[str, str]

    def field(self, name: str) -> Optional[str]:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class ForcedError:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    """State and behaviour of the fake account; start with :meth:`start`."""

    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "fake-auth-token"
    requests: list[Recorded] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    owned: dict[str, dict[str, Any]] = field(default_factory=dict)
    available: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # (method, resource) -> errors to answer with, oldest first; resource is "calls", "call",
    # "numbers", "number" or "available".
    forced: dict[tuple[str, str], list[ForcedError]] = field(default_factory=dict)
    # Runs with the bought number just before Twilio answers a purchase (to stage races).
    on_buy: Optional[Callable[[str], None]] = None
    _server: Any = None
    _thread: Optional[threading.Thread] = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- control ----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeTwilio":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)

    def fail_next(self, method: str, resource: str, *, status: int, code: int, message: str) -> None:
        self.forced.setdefault((method, resource), []).append(ForcedError(status, code, message))

    def own(self, number: str, *, sid: Optional[str] = None, voice_url: Optional[str] = None) -> str:
        """Give the account ``number`` (as if bought earlier in the Console); returns its sid."""
        record = self._number_record(sid or _sid("PN"), number, {"VoiceUrl": [voice_url or ""]})
        self.owned[record["sid"]] = record
        return record["sid"]

    def offer(self, country: str, *numbers: dict[str, Any]) -> None:
        self.available.setdefault(country, []).extend(numbers)

    def last(self, method: str, path_part: str) -> Recorded:
        for request in reversed(self.requests):
            if request.method == method and path_part in request.path:
                return request
        raise AssertionError(f"no {method} request to …{path_part}")

    # -- resources --------------------------------------------------------------------------------

    def _call_record(self, sid: str, form: dict[str, list[str]], created: datetime) -> dict[str, Any]:
        first = {name: values[0] for name, values in form.items()}
        uri = f"{API}/Accounts/{self.account_sid}/Calls/{sid}.json"
        return {
            "account_sid": self.account_sid, "annotation": None, "answered_by": None, "api_version": "2010-04-01",
            "caller_name": None, "date_created": _rfc2822(created), "date_updated": _rfc2822(created),
            "direction": "outbound-api", "duration": None, "end_time": None, "forwarded_from": None,
            "from": first.get("From"), "from_formatted": first.get("From"), "group_sid": None,
            "parent_call_sid": None, "phone_number_sid": None, "price": None, "price_unit": "USD", "sid": sid,
            "start_time": None, "status": "queued", "to": first.get("To"), "to_formatted": first.get("To"),
            "trunk_sid": None, "uri": uri, "queue_time": "0",
            "subresource_uris": {"notifications": uri.replace(".json", "/Notifications.json"),
                                 "recordings": uri.replace(".json", "/Recordings.json")},
        }

    def _number_record(self, sid: str, number: str, form: dict[str, list[str]]) -> dict[str, Any]:
        first = {name: values[0] for name, values in form.items()}
        now = _rfc2822()
        return {
            "account_sid": self.account_sid, "address_requirements": "none", "address_sid": None,
            "api_version": "2010-04-01", "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": now, "date_updated": now, "emergency_status": "Active", "emergency_address_sid": None,
            "friendly_name": first.get("FriendlyName", number), "identity_sid": None, "origin": "twilio",
            "phone_number": number, "sid": sid, "sms_application_sid": "", "sms_fallback_method": "POST",
            "sms_fallback_url": "", "sms_method": "POST", "sms_url": "",
            "status_callback": first.get("StatusCallback", ""),
            "status_callback_method": first.get("StatusCallbackMethod", "POST"), "trunk_sid": None,
            "uri": f"{API}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
            "voice_application_sid": None, "voice_caller_id_lookup": False, "voice_fallback_method": "POST",
            "voice_fallback_url": None, "voice_method": first.get("VoiceMethod", "POST"),
            "voice_url": first.get("VoiceUrl", ""), "bundle_sid": None, "voice_receive_mode": "voice",
            "status": "in-use", "subresource_uris": {},
        }

    def handle(self, request: Recorded) -> tuple[int, Optional[dict[str, Any]]]:
        with self._lock:
            self.requests.append(request)
            if request.auth != (self.account_sid, self.auth_token):
                return _error(401, 20003, "Authenticate")
            account = f"{API}/Accounts/{self.account_sid}"
            routes = [
                (rf"{account}/Calls\.json", "calls"),
                (rf"{account}/Calls/(CA\w+)\.json", "call"),
                (rf"{account}/IncomingPhoneNumbers\.json", "numbers"),
                (rf"{account}/IncomingPhoneNumbers/(PN\w+)\.json", "number"),
                (rf"{account}/AvailablePhoneNumbers/(\w+)/Local\.json", "available"),
            ]
            for pattern, resource in routes:
                match = re.fullmatch(pattern, request.path)
                if match:
                    forced = self.forced.get((request.method, resource))
                    if forced:
                        error = forced.pop(0)
                        return _error(error.status, error.code, error.message)
                    return getattr(self, f"_{request.method.lower()}_{resource}")(request, *match.groups())
            return _error(404, 20404, f"The requested resource {request.path} was not found")

    def _post_calls(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        call = self._call_record(_sid("CA"), request.form, datetime.now(timezone.utc))
        self.calls.append(call)
        return 201, call

    def _get_calls(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        to, from_ = request.query.get("To", [None])[0], request.query.get("From", [None])[0]
        found = [call for call in reversed(self.calls)
                 if (to is None or call["to"] == to) and (from_ is None or call["from"] == from_)]
        size = int(request.query.get("PageSize", ["50"])[0])
        return 200, _page("calls", found[:size], request.path, size)

    def _post_call(self, request: Recorded, sid: str) -> tuple[int, dict[str, Any]]:
        call = next((call for call in self.calls if call["sid"] == sid), None)
        if call is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if call["status"] in ("completed", "canceled", "busy", "failed", "no-answer"):
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        status = request.field("Status")
        if status:
            call["status"] = "canceled" if call["status"] in ("queued", "ringing") else status
        return 200, call

    def _post_numbers(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        number = request.field("PhoneNumber") or ""
        offered = [item["phone_number"] for items in self.available.values() for item in items]
        if number not in offered:
            return _error(400, 21422, "Phone number requested is not available")
        record = self._number_record(_sid("PN"), number, request.form)
        self.owned[record["sid"]] = record
        for items in self.available.values():
            items[:] = [item for item in items if item["phone_number"] != number]
        if self.on_buy is not None:
            self.on_buy(number)
        return 201, record

    def _get_number(self, request: Recorded, sid: str) -> tuple[int, Optional[dict[str, Any]]]:
        if sid not in self.owned:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        return 200, self.owned[sid]

    def _post_number(self, request: Recorded, sid: str) -> tuple[int, Optional[dict[str, Any]]]:
        if sid not in self.owned:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        record = self.owned[sid]
        renames = {"VoiceUrl": "voice_url", "VoiceMethod": "voice_method", "StatusCallback": "status_callback",
                   "StatusCallbackMethod": "status_callback_method", "FriendlyName": "friendly_name"}
        for name, key in renames.items():
            if request.field(name) is not None:
                record[key] = request.field(name)
        return 200, record

    def _delete_number(self, request: Recorded, sid: str) -> tuple[int, Optional[dict[str, Any]]]:
        if self.owned.pop(sid, None) is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        return 204, None

    def _get_available(self, request: Recorded, country: str) -> tuple[int, Optional[dict[str, Any]]]:
        if country not in self.available:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        items = self.available[country]
        area = request.query.get("AreaCode", [None])[0]
        if area:
            items = [item for item in items if item["phone_number"].startswith(f"+1{area}")]
        size = int(request.query.get("PageSize", ["50"])[0])
        page = int(request.query.get("Page", ["0"])[0])
        chunk = items[page * size:(page + 1) * size]
        body = _page("available_phone_numbers", chunk, request.path, size, page=page)
        if (page + 1) * size < len(items):
            query = f"PageSize={size}&Page={page + 1}" + (f"&AreaCode={area}" if area else "")
            body["next_page_uri"] = f"{request.path}?{query}"
        return 200, body


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}


def _page(key: str, items: list[dict[str, Any]], path: str, size: int, *, page: int = 0) -> dict[str, Any]:
    return {
        key: items, "end": page * size + max(len(items) - 1, 0), "first_page_uri": f"{path}?PageSize={size}&Page=0",
        "next_page_uri": None, "page": page, "page_size": size,
        "previous_page_uri": f"{path}?PageSize={size}&Page={page - 1}" if page else None, "start": page * size,
        "uri": f"{path}?PageSize={size}&Page={page}",
    }


def available_local(number: str, *, locality: str, region: str, upper_case_capabilities: bool = False
                    ) -> dict[str, Any]:
    """An AvailablePhoneNumberLocal record as Twilio's reference shows it."""
    capabilities = ({"voice": True, "SMS": True, "MMS": False} if upper_case_capabilities
                    else {"voice": True, "sms": True, "mms": False})
    return {
        "address_requirements": "none", "beta": False, "capabilities": capabilities,
        "friendly_name": f"({number[2:5]}) {number[5:8]}-{number[8:]}", "iso_country": "US", "lata": "722",
        "latitude": "37.780000", "locality": locality, "longitude": "-122.390000", "phone_number": number,
        "postal_code": "94103", "rate_center": locality.upper(), "region": region,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        auth = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            auth = (user, password)
        request = Recorded(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                           parse_qs(body, keep_blank_values=True), auth, dict(self.headers.items()))
        status, payload = self.fake.handle(request)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve
