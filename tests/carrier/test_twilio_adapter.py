"""TwilioCarrier through the real twilio SDK, against a loopback server that answers like Twilio's
REST API: what the SDK sends (form fields, Basic auth, paths), and how answers and errors map."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from callingbox.core.carrier import CarrierError, DialRequest, OwnedNumber
from callingbox.core.carrier.twilio import TwilioCarrier, rebase_url
from tests.carrier.fake_twilio import FakeTwilio, available_local

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://gw.example.com/stream">'
         '<Parameter name="token" value="tok" /></Stream></Connect></Response>')


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def carrier(twilio: FakeTwilio) -> TwilioCarrier:
    return TwilioCarrier(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)


def dial_request(**overrides: object) -> DialRequest:
    fields: dict[str, object] = dict(
        to="+14155550199", from_="+14155550101", twiml=TWIML,
        status_callback_url="https://api.example.com/twilio/status?call_id=call_1",
        amd_callback_url="https://api.example.com/twilio/amd?call_id=call_1", ring_timeout_s=25, time_limit_s=600,
    )
    fields.update(overrides)
    return DialRequest(**fields)  # type: ignore[arg-type]


# -- calls ---------------------------------------------------------------------------------------


def test_dial_sends_twiml_status_events_and_async_amd(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    # WHEN a call is dialed with AMD
    sid = carrier.dial(dial_request())
    # THEN the SDK posted to the account's Calls on the configured base URL, with Basic auth
    sent = twilio.last("POST", "/Calls.json")
    assert sent.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Calls.json"
    assert sent.auth == (twilio.account_sid, twilio.auth_token)
    assert sid == twilio.calls[-1]["sid"] and sid.startswith("CA")
    # and every field the state machine and the gateway depend on
    form = sent.form
    assert form["To"] == ["+14155550199"] and form["From"] == ["+14155550101"]
    assert form["Twiml"] == [TWIML]
    assert form["StatusCallback"] == ["https://api.example.com/twilio/status?call_id=call_1"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["StatusCallbackMethod"] == ["POST"]
    assert form["Timeout"] == ["25"] and form["TimeLimit"] == ["600"]
    assert form["MachineDetection"] == ["DetectMessageEnd"] and form["AsyncAmd"] == ["true"]
    assert form["AsyncAmdStatusCallback"] == ["https://api.example.com/twilio/amd?call_id=call_1"]
    assert form["AsyncAmdStatusCallbackMethod"] == ["POST"]
    assert "Url" not in form


def test_dial_without_amd_or_time_limit_sends_neither(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    carrier.dial(dial_request(amd_callback_url=None, time_limit_s=None))
    form = twilio.last("POST", "/Calls.json").form
    assert not {"MachineDetection", "AsyncAmd", "AsyncAmdStatusCallback", "TimeLimit"} & set(form)
    assert form["Timeout"] == ["25"]


def test_a_refused_dial_carries_twilio_code_and_is_not_retryable(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    twilio.fail_next("POST", "calls", status=400, code=21211,
                     message="The 'To' number +1415 is not a valid phone number.")
    with pytest.raises(CarrierError) as caught:
        carrier.dial(dial_request(to="+1415"))
    error = caught.value
    assert (error.code, error.status, error.retryable) == ("21211", 400, False)
    assert "not a valid phone number" in error.message and error.reason == "error:carrier_21211"


@pytest.mark.parametrize("status, code", [(500, 20500), (503, 20503), (429, 20429)])
def test_server_errors_and_throttling_are_retryable(twilio: FakeTwilio, carrier: TwilioCarrier, status: int,
                                                    code: int) -> None:
    twilio.fail_next("POST", "calls", status=status, code=code, message="try later")
    with pytest.raises(CarrierError) as caught:
        carrier.dial(dial_request())
    assert caught.value.retryable and caught.value.status == status and caught.value.code == str(code)


def test_unreachable_twilio_is_a_retryable_error_without_code() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    carrier = TwilioCarrier("AC" + "1" * 32, "token", api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(CarrierError) as caught:
        carrier.dial(dial_request())
    assert caught.value.retryable and caught.value.code is None and caught.value.reason == "error:carrier"


def test_wrong_credentials_are_refused_not_retried(twilio: FakeTwilio) -> None:
    carrier = TwilioCarrier(twilio.account_sid, "wrong-token", api_base_url=twilio.base_url)
    with pytest.raises(CarrierError) as caught:
        carrier.dial(dial_request())
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (401, "20003", False)


def test_hang_up_completes_the_call_and_tolerates_an_ended_one(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    sid = carrier.dial(dial_request())
    carrier.hang_up(sid)
    sent = twilio.last("POST", f"/Calls/{sid}.json")
    assert sent.form == {"Status": ["completed"]}
    assert twilio.calls[-1]["status"] == "canceled"  # it was still queued
    # the call is over: hanging up again changes nothing and is not an error
    carrier.hang_up(sid)
    with pytest.raises(CarrierError) as caught:
        carrier.hang_up("CA" + "f" * 32)
    assert caught.value.status == 404


def test_redirect_replaces_the_twiml(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    sid = carrier.dial(dial_request())
    carrier.redirect(sid, "<Response><Hangup/></Response>")
    assert twilio.last("POST", f"/Calls/{sid}.json").form == {"Twiml": ["<Response><Hangup/></Response>"]}


def test_find_call_matches_the_pair_and_the_creation_time(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    # GIVEN an old call to the same pair and a new one (created now)
    old = twilio._call_record("CA" + "a" * 32, {"To": ["+14155550199"], "From": ["+14155550101"]},
                              datetime.now(timezone.utc) - timedelta(hours=1))
    twilio.calls.append(old)
    started = int(time.time()) - 1
    sid = carrier.dial(dial_request())
    carrier.dial(dial_request(to="+14155550198"))
    # WHEN the dialer asks what reached the carrier since it started dialing
    assert carrier.find_call(to="+14155550199", from_="+14155550101", started_after=started) == sid
    sent = twilio.last("GET", "/Calls.json")
    assert sent.query["To"] == ["+14155550199"] and sent.query["From"] == ["+14155550101"]
    # THEN an older call of the same pair does not count, and neither does another destination
    assert carrier.find_call(to="+14155550199", from_="+14155550101", started_after=started + 3600) is None
    assert carrier.find_call(to="+14155550197", from_="+14155550101", started_after=0) is None


# -- numbers -------------------------------------------------------------------------------------


def test_search_follows_pages_through_the_base_url(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    twilio.offer("US", *[available_local(f"+1415555{n:04d}", locality="San Francisco", region="CA",
                                         upper_case_capabilities=True) for n in range(5)],
                 available_local("+12125550100", locality="New York", region="NY"))
    found = carrier.search_available(country="US", area_code="415", limit=3)
    assert [item.number for item in found] == ["+14155550000", "+14155550001", "+14155550002"]
    assert found[0].locality == "San Francisco" and found[0].region == "CA" and found[0].country == "US"
    assert found[0].capabilities == {"voice": True, "sms": True}
    sent = twilio.last("GET", "/AvailablePhoneNumbers/US/Local.json")
    assert sent.query["AreaCode"] == ["415"] and sent.query["PageSize"] == ["3"]


def test_search_with_small_pages_follows_next_page_uri(twilio: FakeTwilio) -> None:
    # Next-page URLs are built from https://api.twilio.com, as the SDK's; they must reach the stand-in too.
    twilio.offer("US", *[available_local(f"+1415555{n:04d}", locality="SF", region="CA") for n in range(5)])
    carrier = TwilioCarrier(twilio.account_sid, twilio.auth_token, api_base_url=twilio.base_url)
    records = carrier._rest.list("AvailablePhoneNumbers/US/Local.json", "available_phone_numbers",
                                 {"PageSize": 2}, limit=5)
    assert [record["phone_number"] for record in records] == [f"+1415555{n:04d}" for n in range(5)]
    pages = [r.query.get("Page", ["0"])[0] for r in twilio.requests if "Local.json" in r.path]
    assert pages == ["0", "1", "2"]


def test_search_in_an_unknown_country_is_a_404(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    with pytest.raises(CarrierError) as caught:
        carrier.search_available(country="ZZ")
    assert caught.value.status == 404 and not caught.value.retryable


def test_buy_points_the_number_at_the_platform(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    twilio.offer("US", available_local("+14155550123", locality="SF", region="CA"))
    owned = carrier.buy("+14155550123", voice_url="https://api.example.com/twilio/voice",
                        status_callback_url="https://api.example.com/twilio/status")
    sent = twilio.last("POST", "/IncomingPhoneNumbers.json")
    assert sent.form == {"PhoneNumber": ["+14155550123"], "VoiceUrl": ["https://api.example.com/twilio/voice"],
                         "VoiceMethod": ["POST"], "StatusCallback": ["https://api.example.com/twilio/status"],
                         "StatusCallbackMethod": ["POST"]}
    assert owned == OwnedNumber("+14155550123", owned.carrier_sid, {"voice": True, "sms": True})
    assert twilio.owned[owned.carrier_sid]["voice_url"] == "https://api.example.com/twilio/voice"


def test_buying_a_number_not_on_offer_is_refused(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    with pytest.raises(CarrierError) as caught:
        carrier.buy("+14155550999", voice_url="https://a/v", status_callback_url="https://a/s")
    assert caught.value.code == "21422" and caught.value.status == 400


def test_adopt_checks_the_number_then_configures_it(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    sid = twilio.own("+14155550124", voice_url="https://old.example.com/voice")
    owned = carrier.adopt(sid, "+14155550124", voice_url="https://api.example.com/twilio/voice",
                          status_callback_url="https://api.example.com/twilio/status")
    assert owned.carrier_sid == sid and owned.number == "+14155550124"
    sent = twilio.last("POST", f"/IncomingPhoneNumbers/{sid}.json")
    assert sent.form == {"VoiceUrl": ["https://api.example.com/twilio/voice"], "VoiceMethod": ["POST"],
                         "StatusCallback": ["https://api.example.com/twilio/status"],
                         "StatusCallbackMethod": ["POST"], "FriendlyName": ["+14155550124"]}


def test_adopting_another_number_changes_nothing(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    sid = twilio.own("+14155550125", voice_url="https://old.example.com/voice")
    with pytest.raises(CarrierError) as caught:
        carrier.adopt(sid, "+14155550126", voice_url="https://api.example.com/twilio/voice",
                      status_callback_url="https://api.example.com/twilio/status")
    assert caught.value.code == "number_mismatch"
    assert twilio.owned[sid]["voice_url"] == "https://old.example.com/voice"
    assert not [r for r in twilio.requests if r.method == "POST"]


def test_adopting_an_unknown_sid_is_a_404(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    with pytest.raises(CarrierError) as caught:
        carrier.adopt("PN" + "9" * 32, "+14155550127", voice_url="https://a/v", status_callback_url="https://a/s")
    assert caught.value.status == 404


def test_release_deletes_the_number(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    sid = twilio.own("+14155550128")
    carrier.release(sid)
    assert twilio.last("DELETE", f"/IncomingPhoneNumbers/{sid}.json").auth == (twilio.account_sid,
                                                                                twilio.auth_token)
    assert sid not in twilio.owned
    with pytest.raises(CarrierError) as caught:
        carrier.release(sid)
    assert caught.value.status == 404


def test_rebase_url_keeps_path_and_query_and_prefixes_a_base_path() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?To=%2B1&PageSize=2"
    assert rebase_url(url, "http://127.0.0.1:9000") == "http://127.0.0.1:9000/2010-04-01/Accounts/AC1/Calls.json?To=%2B1&PageSize=2"
    assert rebase_url(url, "http://127.0.0.1:9000/twilio/") == (
        "http://127.0.0.1:9000/twilio/2010-04-01/Accounts/AC1/Calls.json?To=%2B1&PageSize=2")


def test_a_list_that_fails_at_twilio_keeps_its_status_and_code(twilio: FakeTwilio, carrier: TwilioCarrier) -> None:
    # List pages surface errors differently in the SDK (a bare TwilioException holding the response).
    twilio.fail_next("GET", "calls", status=503, code=20503, message="Service unavailable")
    with pytest.raises(CarrierError) as caught:
        carrier.find_call(to="+14155550199", from_="+14155550101", started_after=0)
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (503, "20503", True)
