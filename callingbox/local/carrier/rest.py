"""The REST API of the local carrier: Twilio's 2010-04-01 subset, plus ``/local/*`` extensions.

Served with ``aiohttp.web`` (a dependency of the Twilio SDK) on the network's event loop, so each
request touches the network state without locks. Every route needs HTTP Basic auth with the
account sid and auth token; errors use Twilio's JSON (``code``, ``message``, ``more_info``,
``status``). Routes are listed in :mod:`callingbox.local.carrier`'s docstring.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime, timezone
from hmac import compare_digest
from typing import Any, Awaitable, Callable, Iterable, Mapping, Optional
from urllib.parse import urlsplit

from aiohttp import web

from .callees import BEHAVIOURS, TEST_NUMBERS, is_e164
from .network import NumberNotFound, PhoneNetwork
from .records import TERMINAL_STATUSES, CallRecord, NumberRecord, utc_now
from .resources import (
    API_VERSION,
    NUMBER_FIELDS,
    available_number,
    call_resource,
    error_body,
    number_resource,
    page_envelope,
)
from .simulation import TwimlSource
from .twiml import TwimlError, parse_twiml

__all__ = ["build_app", "TwilioApiError"]

ACCOUNT_PREFIX = f"/{API_VERSION}/Accounts/{{account}}"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
_SID_PN = "PN"
# Numbers on offer: the fictional 555-01xx lines of an area code.
_AREAS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "US": ("415", {"415": ("San Francisco", "CA"), "212": ("New York", "NY"), "312": ("Chicago", "IL"),
                   "206": ("Seattle", "WA"), "512": ("Austin", "TX")}),
    "CA": ("604", {"604": ("Vancouver", "BC"), "416": ("Toronto", "ON")}),
}


class TwilioApiError(Exception):
    """An error answered as Twilio would."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error_response(status: int, code: int, message: str) -> web.Response:
    return web.json_response(error_body(status, code, message), status=status)


def build_app(network: PhoneNetwork) -> web.Application:
    """The aiohttp application serving ``network``."""

    @web.middleware
    async def twilio_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                            ) -> web.StreamResponse:
        if not _authorized(request, network):
            response = _error_response(401, 20003, "Authenticate")
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        try:
            return await handler(request)
        except TwilioApiError as error:
            return _error_response(error.status, error.code, error.message)
        except web.HTTPMethodNotAllowed:
            return _error_response(405, 20004, "Method not allowed")
        except web.HTTPNotFound:
            return _error_response(404, 20404, f"The requested resource {request.path} was not found")

    app = web.Application(middlewares=[twilio_errors], client_max_size=1024 * 1024)
    handlers = _Handlers(network)
    app.router.add_route("GET", f"{ACCOUNT_PREFIX}/Calls.json", handlers.list_calls)
    app.router.add_route("POST", f"{ACCOUNT_PREFIX}/Calls.json", handlers.create_call)
    app.router.add_route("GET", f"{ACCOUNT_PREFIX}/Calls/{{sid}}.json", handlers.fetch_call)
    app.router.add_route("POST", f"{ACCOUNT_PREFIX}/Calls/{{sid}}.json", handlers.update_call)
    app.router.add_route("GET", f"{ACCOUNT_PREFIX}/IncomingPhoneNumbers.json", handlers.list_numbers)
    app.router.add_route("POST", f"{ACCOUNT_PREFIX}/IncomingPhoneNumbers.json", handlers.buy_number)
    app.router.add_route("GET", f"{ACCOUNT_PREFIX}/IncomingPhoneNumbers/{{sid}}.json", handlers.fetch_number)
    app.router.add_route("POST", f"{ACCOUNT_PREFIX}/IncomingPhoneNumbers/{{sid}}.json", handlers.update_number)
    app.router.add_route("DELETE", f"{ACCOUNT_PREFIX}/IncomingPhoneNumbers/{{sid}}.json", handlers.release_number)
    app.router.add_route("GET", f"{ACCOUNT_PREFIX}/AvailablePhoneNumbers/{{country}}/Local.json",
                         handlers.available_numbers)
    app.router.add_route("GET", "/local/callees", handlers.list_callees)
    app.router.add_route("POST", "/local/callees", handlers.set_callee)
    app.router.add_route("DELETE", "/local/callees/{number}", handlers.reset_callee)
    app.router.add_route("POST", "/local/ring", handlers.ring)
    app.router.add_route("GET", "/local/calls/{sid}", handlers.call_log)
    return app


def _authorized(request: web.Request, network: PhoneNetwork) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        login, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Constant-time comparisons: the token is a secret even on loopback.
    return (compare_digest(login.encode(), network.account_sid.encode())
            and compare_digest(password.encode(), network.auth_token.encode()))


def _is_url(value: Optional[str]) -> bool:
    if not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _page_args(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        page_size = int(query.get("PageSize", DEFAULT_PAGE_SIZE))
        page = int(query.get("Page", 0))
    except ValueError:
        raise TwilioApiError(400, 20001, "PageSize and Page must be integers") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
        raise TwilioApiError(400, 20001, f"PageSize must be between 1 and {MAX_PAGE_SIZE}, Page >= 0")
    return page, page_size


def _paged(key: str, items: list[dict[str, Any]], request: web.Request) -> web.Response:
    page, page_size = _page_args(request.query)
    start = page * page_size
    chunk = items[start:start + page_size]
    filters = {name: value for name, value in request.query.items()
               if name not in ("Page", "PageSize", "PageToken")}
    body = page_envelope(key, chunk, path=request.path, query=filters, page=page, page_size=page_size,
                         has_next=start + page_size < len(items))
    return web.json_response(body)


def _time_filter(value: str, name: str) -> tuple[bool, Any]:
    """(is_date_only, value) of a ``StartTime``-style filter: ``YYYY-MM-DD`` or an ISO 8601 datetime."""
    try:
        if len(value) == 10:
            return True, date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return False, moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise TwilioApiError(400, 20001, f"Invalid {name}: {value!r}") from None


def _time_matches(moment: Optional[datetime], bound: tuple[bool, Any], op: str) -> bool:
    if moment is None:
        return False
    date_only, value = bound
    subject: Any = moment.date() if date_only else moment.replace(microsecond=0)
    if op == ">":
        return bool(subject >= value)
    if op == "<":
        return bool(subject <= value)
    return bool(subject == value)


async def _body(request: web.Request) -> dict[str, Any]:
    """A ``/local`` request body: JSON object, or a form."""
    if request.content_type == "application/json":
        try:
            value = await request.json()
        except json.JSONDecodeError:
            raise TwilioApiError(400, 20001, "the body is not valid JSON") from None
        if not isinstance(value, dict):
            raise TwilioApiError(400, 20001, "the body must be a JSON object")
        return value
    form = await request.post()
    return {key: (form.getall(key) if key == "lines" else form.get(key)) for key in form.keys()}


class _Handlers:
    """Route handlers over one network."""

    def __init__(self, network: PhoneNetwork) -> None:
        self.network = network

    def _account(self, request: web.Request) -> None:
        if request.match_info.get("account") != self.network.account_sid:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")

    def _call(self, request: web.Request) -> CallRecord:
        self._account(request)
        call = self.network.calls.get(request.match_info["sid"])
        if call is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return call

    def _number(self, request: web.Request) -> Optional[NumberRecord]:
        self._account(request)
        return self.network.numbers.get(request.match_info["sid"])

    # Calls

    async def create_call(self, request: web.Request) -> web.Response:
        self._account(request)
        form = await request.post()
        to, from_ = form.get("To"), form.get("From")
        if not to:
            raise TwilioApiError(400, 21201, "No 'To' number is specified")
        if not is_e164(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            raise TwilioApiError(400, 21213, "No 'From' number is specified")
        if not is_e164(from_):
            raise TwilioApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        source = _twiml_source(form.get("Twiml"), form.get("Url"), form.get("Method"))
        if source is None:
            raise TwilioApiError(400, 21205, "Either Url, Twiml or ApplicationSid is required")
        options: dict[str, Any] = {key: form.get(key) for key in form.keys() if key != "StatusCallbackEvent"}
        events = [event.lower() for value in form.getall("StatusCallbackEvent", []) for event in str(value).split()]
        if events:
            unknown = [event for event in events if event not in CALL_EVENTS]
            if unknown:
                raise TwilioApiError(400, 21626, f"Invalid StatusCallbackEvent: {', '.join(unknown)}")
            options["StatusCallbackEvent"] = events
        for name in ("StatusCallback", "AsyncAmdStatusCallback"):
            if options.get(name) and not _is_url(options[name]):
                raise TwilioApiError(400, 21609, f"Invalid {name} url: {options[name]}")
        for name in ("Timeout", "TimeLimit"):
            if options.get(name) not in (None, ""):
                try:
                    int(options[name])
                except ValueError:
                    raise TwilioApiError(400, 20001, f"{name} must be an integer") from None
        call = self.network.place_call(to=to, from_=from_, options=options, source=source)
        return web.json_response(call_resource(call), status=201)

    async def list_calls(self, request: web.Request) -> web.Response:
        self._account(request)
        query = request.query
        calls: Iterable[CallRecord] = self.network.calls.values()
        for name, attribute in (("To", "to"), ("From", "from_"), ("Status", "status"),
                                ("ParentCallSid", "parent_call_sid")):
            if query.get(name):
                calls = [call for call in calls if getattr(call, attribute) == query[name]]
        for field, attribute in (("StartTime", "start_time"), ("EndTime", "end_time")):
            for op in ("", ">", "<"):
                value = query.get(field + op)
                if value:
                    bound = _time_filter(value, field + op)
                    calls = [call for call in calls if _time_matches(getattr(call, attribute), bound, op)]
        newest_first = sorted(calls, key=lambda call: call.date_created, reverse=True)
        return _paged("calls", [call_resource(call) for call in newest_first], request)

    async def fetch_call(self, request: web.Request) -> web.Response:
        return web.json_response(call_resource(self._call(request)))

    async def update_call(self, request: web.Request) -> web.Response:
        call = self._call(request)
        form = await request.post()
        status = form.get("Status")
        if status and status not in ("completed", "canceled"):
            raise TwilioApiError(400, 21218, f"Invalid Status: {status} (completed or canceled)")
        source = _twiml_source(form.get("Twiml"), form.get("Url"), form.get("Method"))
        if source is not None:
            if call.status in TERMINAL_STATUSES:
                raise TwilioApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
            self.network.redirect(call.sid, source)
        if status:
            self.network.end_call(call.sid, status)
        return web.json_response(call_resource(call))

    # Numbers

    async def list_numbers(self, request: web.Request) -> web.Response:
        self._account(request)
        numbers: Iterable[NumberRecord] = self.network.numbers.values()
        wanted = request.query.get("PhoneNumber")
        if wanted:
            pattern = wanted.replace("*", "").strip()
            numbers = [n for n in numbers
                       if (n.phone_number == pattern if pattern.startswith("+") else pattern in n.phone_number)]
        name = request.query.get("FriendlyName")
        if name:
            numbers = [n for n in numbers if number_resource(n)["friendly_name"] == name]
        ordered = sorted(numbers, key=lambda n: n.date_created, reverse=True)
        return _paged("incoming_phone_numbers", [number_resource(n) for n in ordered], request)

    async def buy_number(self, request: web.Request) -> web.Response:
        self._account(request)
        form = await request.post()
        phone_number, area_code = form.get("PhoneNumber"), form.get("AreaCode")
        if phone_number:
            if not is_e164(phone_number):
                raise TwilioApiError(400, 21421, "PhoneNumber is invalid")
            if self.network.number_for(phone_number) is not None:
                raise TwilioApiError(400, 21422, "PhoneNumber requested is not available")
        elif area_code:
            offered = _offer(self.network, "US", area_code, 1)
            if not offered:
                raise TwilioApiError(400, 21452, "No phone numbers found in area code")
            phone_number = offered[0]
        else:
            raise TwilioApiError(400, 21421, "A PhoneNumber or an AreaCode is required")
        fields = _number_fields(form)
        number = self.network.add_number(phone_number, **fields)
        return web.json_response(number_resource(number), status=201)

    async def fetch_number(self, request: web.Request) -> web.Response:
        number = self._number(request)
        if number is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(number_resource(number))

    async def update_number(self, request: web.Request) -> web.Response:
        number = self._number(request)
        form = await request.post()
        fields = _number_fields(form)
        if number is None:
            number = self._adopt(request.match_info["sid"], fields)
            if number is None:
                raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        else:
            number.fields.update(fields)
            number.date_updated = utc_now()
        return web.json_response(number_resource(number))

    def _adopt(self, sid: str, fields: dict[str, Any]) -> Optional[NumberRecord]:
        """The local rule for importing: a well-formed unknown sid whose FriendlyName is a free E.164 number."""
        well_formed = sid.startswith(_SID_PN) and len(sid) == 34 and all(c in "0123456789abcdefABCDEF" for c in sid[2:])
        phone_number = fields.get("friendly_name")
        if not well_formed or not is_e164(phone_number) or self.network.number_for(phone_number) is not None:
            return None
        return self.network.add_number(phone_number, sid=sid, **fields)

    async def release_number(self, request: web.Request) -> web.Response:
        number = self._number(request)
        if number is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        del self.network.numbers[number.sid]
        return web.Response(status=204)

    async def available_numbers(self, request: web.Request) -> web.Response:
        self._account(request)
        country = request.match_info["country"].upper()
        if country not in _AREAS:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        area_code = request.query.get("AreaCode") or _AREAS[country][0]
        if not (len(area_code) == 3 and area_code.isdigit()):
            raise TwilioApiError(400, 21451, f"Invalid area code: {area_code}")
        _, page_size = _page_args(request.query)
        contains = (request.query.get("Contains") or "").replace("*", "")
        numbers = [n for n in _offer(self.network, country, area_code, 100) if contains in n][:page_size]
        locality, region = _AREAS[country][1].get(area_code, (None, None))
        items = [available_number(n, country=country, locality=locality, region=region) for n in numbers]
        body = page_envelope("available_phone_numbers", items, path=request.path, query=dict(request.query),
                             page=0, page_size=page_size, has_next=False)
        return web.json_response(body)

    # /local extensions

    async def list_callees(self, request: web.Request) -> web.Response:
        directory = self.network.callees
        return web.json_response({
            "callees": [script.as_json(number) for number, script in directory.overrides.items()],
            "test_numbers": dict(TEST_NUMBERS),
            "behaviours": list(BEHAVIOURS),
        })

    async def set_callee(self, request: web.Request) -> web.Response:
        body = await _body(request)
        unknown = set(body) - {"number", "behaviour", "lines", "speaks_first", "answer_delay_s", "idle_hangup_s",
                               "greeting"}
        if unknown:
            raise TwilioApiError(400, 20001, f"unknown fields: {', '.join(sorted(unknown))}")
        number = body.get("number")
        try:
            script = self.network.callees.set(
                str(number or ""), behaviour=body.get("behaviour"), lines=body.get("lines"),
                speaks_first=body.get("speaks_first"), answer_delay_s=body.get("answer_delay_s"),
                idle_hangup_s=body.get("idle_hangup_s"), greeting=body.get("greeting"))
        except ValueError as error:
            raise TwilioApiError(400, 20001, str(error)) from None
        return web.json_response(script.as_json(str(number)))

    async def reset_callee(self, request: web.Request) -> web.Response:
        if not self.network.callees.reset(request.match_info["number"]):
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return web.Response(status=204)

    async def ring(self, request: web.Request) -> web.Response:
        body = await _body(request)
        to, from_, lines = body.get("to"), body.get("from"), body.get("lines")
        if lines is not None and (not isinstance(lines, list) or not all(isinstance(x, str) for x in lines)):
            raise TwilioApiError(400, 20001, "lines must be a list of strings")
        if not is_e164(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not is_e164(from_):
            raise TwilioApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        try:
            call = self.network.ring(str(to), str(from_), lines=lines)
        except NumberNotFound as error:
            raise TwilioApiError(404, 20404, str(error)) from None
        return web.json_response(call_resource(call), status=201)

    async def call_log(self, request: web.Request) -> web.Response:
        call = self.network.calls.get(request.match_info["sid"])
        if call is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        origin = call.status_history[0][0] if call.status_history else 0.0
        return web.json_response({
            "call": call_resource(call),
            "statuses": call.statuses,
            "spoken": call.spoken_text,
            "events": [{"t": round(event.at - origin, 3), "kind": event.kind, **event.detail} for event in call.events],
            "streams": [{"stream_sid": s.stream_sid, "url": s.url, "parameters": s.parameters,
                         "closed_by": s.closed_by, "heard_bytes": len(s.heard_audio)} for s in call.streams],
        }, dumps=lambda value: json.dumps(value, default=str))


def _twiml_source(twiml: Any, url: Any, method: Any) -> Optional[TwimlSource]:
    if twiml:
        try:
            parse_twiml(str(twiml))
        except TwimlError as error:
            raise TwilioApiError(400, 12100, f"Document parse failure: {error}") from None
        return TwimlSource(twiml=str(twiml))
    if url:
        if not _is_url(str(url)):
            raise TwilioApiError(400, 21205, f"Url is not a valid URL: {url}")
        return TwimlSource(url=str(url), method=str(method or "POST").upper())
    return None


def _number_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    fields = {NUMBER_FIELDS[key]: form[key] for key in form.keys() if key in NUMBER_FIELDS}
    for name in ("voice_url", "status_callback", "voice_fallback_url"):
        if fields.get(name) and not _is_url(fields[name]):
            raise TwilioApiError(400, 21502, f"Invalid {name} URL: {fields[name]}")
    for name in ("voice_method", "status_callback_method"):
        if name in fields:
            fields[name] = str(fields[name]).upper()
            if fields[name] not in ("GET", "POST"):
                raise TwilioApiError(400, 20001, f"{name} must be GET or POST")
    return fields


def _offer(network: PhoneNetwork, country: str, area_code: str, count: int) -> list[str]:
    """Free numbers in ``area_code`` (555-0100 to 555-0199: fictional, never a real line)."""
    candidates = (f"+1{area_code}555{suffix:04d}" for suffix in range(100, 200))
    return [number for number in candidates if network.number_for(number) is None][:count]
