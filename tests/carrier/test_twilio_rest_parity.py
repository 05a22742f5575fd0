"""The adapter's thin REST layer sends what ``twilio.rest.Client`` sends, request for request.

The Lambda bundles leave ``twilio/rest`` out (the API bundle's size goal), so
:mod:`callingbox.core.carrier.twilio_rest` issues the SDK's requests itself. Here both run against
the same loopback Twilio and what arrived is compared field by field: method, path, query, form
(repeated fields included), Basic auth and the content headers. The SDK side is the full SDK of
this venv, so a Twilio release that renamed a parameter would show up here.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from callingbox.core.carrier import CarrierError, DialRequest
from callingbox.core.carrier.twilio import STATUS_CALLBACK_EVENTS, TwilioCarrier, rebased_http_client
from tests.carrier.fake_twilio import FakeTwilio, available_local

rest = pytest.importorskip("twilio.rest", reason="the full Twilio SDK is needed to compare against")

TWIML = "<Response><Connect><Stream url=\"wss://gw.example.com/stream\" /></Connect></Response>"
VOICE, STATUS = "https://api.example.com/twilio/voice", "https://api.example.com/twilio/status"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def _sdk(fake: FakeTwilio) -> Any:
    return rest.Client(fake.account_sid, fake.auth_token, http_client=rebased_http_client(fake.base_url))


def _sent(fake: FakeTwilio, action: Callable[[], Any]) -> list[tuple[Any, ...]]:
    """The requests ``action`` made, without what legitimately differs (the Python-side User-Agent
    is the same ClientBase's, so it is compared too)."""
    before = len(fake.requests)
    try:
        action()
    except Exception:  # noqa: BLE001 - errors are compared separately; here only what was sent
        pass
    return [(r.method, r.path, r.query, r.form, r.auth,
             {name.lower(): value for name, value in r.headers.items()
              if name.lower() in {"content-type", "accept", "user-agent", "x-twilio-client", "accept-charset"}})
            for r in fake.requests[before:]]


def test_calls_requests_match_the_sdk(twilio: FakeTwilio) -> None:
    sdk, carrier = _sdk(twilio), TwilioCarrier(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)
    request = DialRequest(to="+14155550199", from_="+14155550101", twiml=TWIML, status_callback_url=STATUS,
                          amd_callback_url=f"{STATUS}/amd", ring_timeout_s=25, time_limit_s=600)
    ours = _sent(twilio, lambda: carrier.dial(request))
    theirs = _sent(twilio, lambda: sdk.calls.create(
        to=request.to, from_=request.from_, twiml=TWIML, status_callback=STATUS,
        status_callback_event=list(STATUS_CALLBACK_EVENTS), status_callback_method="POST", timeout=25,
        time_limit=600, machine_detection="DetectMessageEnd", async_amd="true",
        async_amd_status_callback=f"{STATUS}/amd", async_amd_status_callback_method="POST"))
    assert ours == theirs and len(ours) == 1
    sid = twilio.calls[-1]["sid"]
    assert _sent(twilio, lambda: carrier.redirect(sid, TWIML)) == _sent(
        twilio, lambda: sdk.calls(sid).update(twiml=TWIML))
    assert _sent(twilio, lambda: carrier.hang_up(sid)) == _sent(
        twilio, lambda: sdk.calls(sid).update(status="completed"))
    ours = _sent(twilio, lambda: carrier.find_call(to=request.to, from_=request.from_, started_after=0))
    assert ours == _sent(twilio, lambda: sdk.calls.list(to=request.to, from_=request.from_, limit=50, page_size=50))


def test_number_requests_match_the_sdk(twilio: FakeTwilio) -> None:
    sdk, carrier = _sdk(twilio), TwilioCarrier(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)
    twilio.offer("US", *[available_local(f"+1415555{n:04d}", locality="SF", region="CA") for n in range(7)])
    # search, following next_page_uri (page size 2, five records: three pages)
    ours = _sent(twilio, lambda: carrier._rest.list("AvailablePhoneNumbers/US/Local.json", "available_phone_numbers",
                                                    {"AreaCode": 415, "PageSize": 2}, limit=5))
    theirs = _sent(twilio, lambda: sdk.available_phone_numbers("US").local.list(area_code=415, limit=5, page_size=2))
    assert ours == theirs and len(ours) == 3
    assert _sent(twilio, lambda: carrier.search_available(area_code="415", limit=3)) == _sent(
        twilio, lambda: sdk.available_phone_numbers("US").local.list(area_code=415, limit=3, page_size=3))
    # buy (two numbers on offer, the form differs only in PhoneNumber)
    ours = _sent(twilio, lambda: carrier.buy("+14155550000", voice_url=VOICE, status_callback_url=STATUS))
    theirs = _sent(twilio, lambda: sdk.incoming_phone_numbers.create(
        phone_number="+14155550001", voice_url=VOICE, voice_method="POST", status_callback=STATUS,
        status_callback_method="POST"))
    assert ours[0][3].pop("PhoneNumber") == ["+14155550000"] and theirs[0][3].pop("PhoneNumber") == ["+14155550001"]
    assert ours == theirs
    # adopt = fetch + update; release = delete
    sid = twilio.own("+14155550199")
    ours = _sent(twilio, lambda: carrier.adopt(sid, "+14155550199", voice_url=VOICE, status_callback_url=STATUS))
    theirs = _sent(twilio, lambda: (sdk.incoming_phone_numbers(sid).fetch(), sdk.incoming_phone_numbers(sid).update(
        voice_url=VOICE, voice_method="POST", status_callback=STATUS, status_callback_method="POST",
        friendly_name="+14155550199")))
    assert ours == theirs and len(ours) == 2
    assert _sent(twilio, lambda: carrier.release(sid)) == _sent(twilio, lambda: sdk.incoming_phone_numbers(sid).delete())


@pytest.mark.parametrize("method, resource, status", [("POST", "calls", 400), ("GET", "calls", 503),
                                                     ("POST", "call", 404), ("POST", "numbers", 429)])
def test_errors_map_as_they_did_through_the_sdk(twilio: FakeTwilio, method: str, resource: str, status: int) -> None:
    """The CarrierError (message, code, status, retryable) is what the SDK's exceptions gave."""
    from callingbox.core.carrier.twilio import _carrier_errors

    sdk, carrier = _sdk(twilio), TwilioCarrier(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)
    call_sid = "CA" + "a" * 32
    ours_by_resource: dict[str, Callable[[], Any]] = {
        "calls": (lambda: carrier.dial(DialRequest(to="+1", from_="+2", twiml=TWIML, status_callback_url=STATUS)))
        if method == "POST" else (lambda: carrier.find_call(to="+1", from_="+2", started_after=0)),
        "call": lambda: carrier.redirect(call_sid, TWIML),
        "numbers": lambda: carrier.buy("+14155550124", voice_url=VOICE, status_callback_url=STATUS),
    }
    theirs_by_resource: dict[str, Callable[[], Any]] = {
        "calls": (lambda: sdk.calls.create(to="+1", from_="+2", twiml=TWIML))
        if method == "POST" else (lambda: sdk.calls.list(to="+1", from_="+2", limit=50, page_size=50)),
        "call": lambda: sdk.calls(call_sid).update(twiml=TWIML),
        "numbers": lambda: sdk.incoming_phone_numbers.create(phone_number="+14155550124"),
    }
    action = {"calls": "place the call" if method == "POST" else "list calls", "call": "redirect the call",
              "numbers": "buy +14155550124"}[resource]
    errors = []
    for attempt in (ours_by_resource[resource], theirs_by_resource[resource]):
        twilio.fail_next(method, resource, status=status, code=20000 + status, message=f"refused with {status}")
        with pytest.raises(CarrierError) as caught:
            if attempt is theirs_by_resource[resource]:
                with _carrier_errors(action):
                    attempt()
            else:
                attempt()
        error = caught.value
        errors.append((error.message, error.code, error.status, error.retryable))
    assert errors[0] == errors[1] and errors[0][2] == status
