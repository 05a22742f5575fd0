"""The local carrier's REST API, driven by the real Twilio SDK (and raw HTTP where the SDK hides the wire)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from callingbox.local.carrier import LocalCarrier
from tests.local_carrier.harness import ACCOUNT_SID, AUTH_TOKEN, LocalTwilioHttpClient

pytestmark = pytest.mark.integration

HANGUP = "<Response><Hangup/></Response>"
SID = re.compile(r"^CA[0-9a-f]{32}$")


def test_create_call_returns_twilios_call_resource(twilio: Client, carrier: LocalCarrier) -> None:
    raw = httpx.post(f"{carrier.api_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
                     data={"To": "+15550100006", "From": "+14155550100", "Twiml": HANGUP},
                     auth=(ACCOUNT_SID, AUTH_TOKEN), trust_env=False)
    assert raw.status_code == 201
    body = raw.json()
    assert SID.match(body["sid"])
    assert body["status"] == "queued"
    assert body["direction"] == "outbound-api"
    assert body["api_version"] == "2010-04-01"
    assert body["account_sid"] == ACCOUNT_SID
    assert (body["to"], body["from"]) == ("+15550100006", "+14155550100")
    assert body["to_formatted"] == "(555) 010-0006"
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{body['sid']}.json"
    assert body["start_time"] is None and body["end_time"] is None and body["duration"] is None
    assert re.match(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$", body["date_created"])
    assert set(body["subresource_uris"]) >= {"recordings", "notifications", "streams"}

    call = twilio.calls(body["sid"]).fetch()  # the SDK deserializes the same shape
    assert call.sid == body["sid"] and call.date_created.tzinfo is not None
    carrier.wait_for_call(body["sid"], "completed")
    ended = twilio.calls(body["sid"]).fetch()
    assert ended.status == "completed" and ended.duration == "0" and ended.end_time is not None


def test_list_calls_filters_and_pages_like_twilio(twilio: Client, carrier: LocalCarrier) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    to = "+15550100006"
    sids = [twilio.calls.create(to=to, from_="+14155559901", twiml=HANGUP).sid for _ in range(3)]
    twilio.calls.create(to=to, from_="+14155559902", twiml=HANGUP)
    for sid in sids:
        carrier.wait_for_call(sid, "completed")

    listed = twilio.calls.list(to=to, from_="+14155559901", start_time_after=before, page_size=2)
    assert [call.sid for call in listed] == list(reversed(sids))  # newest first, across two pages

    page = httpx.get(f"{carrier.api_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
                     params={"From": "+14155559901", "PageSize": 2}, auth=(ACCOUNT_SID, AUTH_TOKEN),
                     trust_env=False).json()
    assert set(page) == {"calls", "end", "first_page_uri", "next_page_uri", "page", "page_size",
                         "previous_page_uri", "start", "uri"}
    assert (page["page"], page["page_size"], len(page["calls"])) == (0, 2, 2)
    assert "From=%2B14155559901" in page["next_page_uri"] and "Page=1" in page["next_page_uri"]

    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert twilio.calls.list(from_="+14155559901", start_time_after=later) == []


def test_update_call_status_ends_a_ringing_call_as_canceled(twilio: Client, carrier: LocalCarrier) -> None:
    call = twilio.calls.create(to="+15550100004", from_="+14155550100", twiml=HANGUP, timeout=30)
    carrier.wait_for_call(call.sid, "ringing")
    updated = twilio.calls(call.sid).update(status="canceled")
    assert updated.status == "canceled"
    assert carrier.wait_for_call(call.sid).statuses == ["queued", "ringing", "canceled"]


def test_errors_are_twilios(twilio: Client, carrier: LocalCarrier) -> None:
    with pytest.raises(TwilioRestException) as invalid_to:
        twilio.calls.create(to="555-0100", from_="+14155550100", twiml=HANGUP)
    assert (invalid_to.value.status, invalid_to.value.code) == (400, 21211)

    with pytest.raises(TwilioRestException) as unknown:
        twilio.calls("CA" + "0" * 32).fetch()
    assert (unknown.value.status, unknown.value.code) == (404, 20404)

    with pytest.raises(TwilioRestException) as bad_twiml:
        twilio.calls.create(to="+15550100001", from_="+14155550100", twiml="<Response><Say>")
    assert bad_twiml.value.code == 12100

    impostor = Client(ACCOUNT_SID, "not-the-token", http_client=LocalTwilioHttpClient(carrier.api_url))
    with pytest.raises(TwilioRestException) as denied:
        impostor.calls.create(to="+15550100001", from_="+14155550100", twiml=HANGUP)
    assert (denied.value.status, denied.value.code) == (401, 20003)
    with pytest.raises(TwilioException):
        impostor.calls.list()

    raw = httpx.get(f"{carrier.api_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json", trust_env=False)
    assert raw.status_code == 401
    assert raw.json() == {"code": 20003, "message": "Authenticate",
                          "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    # Nothing was placed by the refused requests.
    assert not [c for c in carrier.calls.values() if c.to == "555-0100"]


def test_buy_list_update_release_numbers(twilio: Client) -> None:
    offered = twilio.available_phone_numbers("US").local.list(area_code="212", limit=3)
    assert len(offered) == 3
    assert all(n.phone_number.startswith("+1212555") and n.iso_country == "US" for n in offered)
    assert offered[0].locality == "New York" and offered[0].capabilities["voice"] is True

    bought = twilio.incoming_phone_numbers.create(phone_number=offered[0].phone_number,
                                                  voice_url="http://127.0.0.1:9/voice",
                                                  status_callback="http://127.0.0.1:9/status")
    assert re.match(r"^PN[0-9a-f]{32}$", bought.sid)
    assert (bought.voice_url, bought.status_callback, bought.voice_method) == (
        "http://127.0.0.1:9/voice", "http://127.0.0.1:9/status", "POST")
    # Bought numbers leave the offer.
    again = twilio.available_phone_numbers("US").local.list(area_code="212", limit=3)
    assert offered[0].phone_number not in [n.phone_number for n in again]
    with pytest.raises(TwilioRestException) as taken:
        twilio.incoming_phone_numbers.create(phone_number=offered[0].phone_number)
    assert taken.value.code == 21422

    assert [n.sid for n in twilio.incoming_phone_numbers.list(phone_number=offered[0].phone_number)] == [bought.sid]
    updated = twilio.incoming_phone_numbers(bought.sid).update(voice_url="http://127.0.0.1:9/other")
    assert updated.voice_url == "http://127.0.0.1:9/other"
    assert twilio.incoming_phone_numbers(bought.sid).fetch().voice_url == "http://127.0.0.1:9/other"

    assert twilio.incoming_phone_numbers(bought.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        twilio.incoming_phone_numbers(bought.sid).fetch()
    assert gone.value.status == 404


def test_updating_an_unknown_well_formed_number_sid_adopts_it(twilio: Client) -> None:
    sid = "PN" + "ab" * 16
    adopted = twilio.incoming_phone_numbers(sid).update(friendly_name="+13125550177",
                                                        voice_url="http://127.0.0.1:9/voice")
    assert (adopted.sid, adopted.phone_number, adopted.voice_url) == (sid, "+13125550177", "http://127.0.0.1:9/voice")
    assert twilio.incoming_phone_numbers(sid).fetch().phone_number == "+13125550177"

    for bad_sid, name in (("PN" + "cd" * 16, "my number"), ("PNnot-hex", "+13125550178")):
        with pytest.raises(TwilioRestException) as unknown:
            twilio.incoming_phone_numbers(bad_sid).update(friendly_name=name)
        assert (unknown.value.status, unknown.value.code) == (404, 20404)


def test_local_callees_extension(carrier: LocalCarrier) -> None:
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    with httpx.Client(base_url=carrier.api_url, auth=auth, trust_env=False) as http:
        listed = http.get("/local/callees").json()
        assert listed["test_numbers"]["+15550100003"] == "busy"
        scripted = http.post("/local/callees", json={"number": "+14155550188", "behaviour": "voicemail",
                                                      "greeting": "Leave it."})
        assert scripted.status_code == 200 and scripted.json()["behaviour"] == "voicemail"
        assert carrier.callees.lookup("+14155550188").greeting == "Leave it."
        bad = http.post("/local/callees", json={"number": "+14155550188", "behaviour": "robot"})
        assert bad.status_code == 400 and bad.json()["code"] == 20001
        assert http.delete("/local/callees/+14155550188").status_code == 204
        assert carrier.callees.lookup("+14155550188").behaviour == "human"
        assert httpx.get(f"{carrier.api_url}/local/callees", trust_env=False).status_code == 401
