"""Numbers and filter rules over real HTTP (seeds 001, 004)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Iterator, Optional

import pytest

from callingbox.core.numbers import number_document
from callingbox.core.store import numbers as number_store
from tests.carrier.fake_twilio import FakeTwilio, available_local
from tests.support import unique_e164


def test_import_get_list(api: Any) -> None:
    number = unique_e164()
    created = api.post("/v1/numbers", json={"import": {"number": number, "carrier_sid": "PN123"}})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["id"].startswith("pn_") and body["number"] == number and body["object"] == "phone_number"
    assert body["inbound_mode"] == "agent" and body["filter_mode"] == "blacklist" and body["inbound_agent_id"] is None
    assert api.get(f"/v1/numbers/{body['id']}").json() == body
    assert api.get("/v1/numbers?limit=1").json()["data"][0]["id"] == body["id"]


def test_a_number_is_owned_once(api: Any, workspace: Any) -> None:
    taken = workspace.numbers["pn_abc123"]
    response = api.post("/v1/numbers", json={"import": {"number": taken, "carrier_sid": "PN1"}})
    assert response.status_code == 409 and response.json()["error"]["code"] == "number_already_exists"


def test_the_local_stack_buys_and_searches_at_the_local_carrier_and_imports_are_records(api: Any,
                                                                                         local_stack: Any) -> None:
    # GIVEN the local stack, whose carrier is the local Twilio stand-in
    found = api.get("/v1/numbers/available?country=US&area_code=415")
    assert found.status_code == 200
    offered = found.json()["data"]
    assert offered and all(item["number"].startswith("+1415") for item in offered)
    # WHEN a searched number is bought
    bought = api.post("/v1/numbers", json={"number": offered[0]["number"]})
    assert bought.status_code == 200, bought.text
    doc = bought.json()
    # THEN the carrier holds it, pointed at the platform's voice webhook
    held = local_stack.carrier.network.number_for(doc["number"])
    assert held is not None and held.sid == doc["carrier_sid"]
    assert held.voice_url == local_stack.environment["CALLINGBOX_VOICE_URL"]
    both = api.post("/v1/numbers", json={"number": unique_e164(), "import": {"number": unique_e164(), "carrier_sid": "x"}})
    assert both.status_code == 400
    # and a sample number (a local record) is released as a record only
    released = api.delete("/v1/numbers/pn_old")
    assert released.status_code == 200 and released.json()["status"] == "released"


def test_patch_routing(api: Any) -> None:
    refused = api.patch("/v1/numbers/pn_abc123", json={"inbound_mode": "webhook"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "incoming_call_webhook_url"
    edited = api.patch("/v1/numbers/pn_abc123", json={
        "inbound_mode": "webhook", "incoming_call_webhook_url": "https://hooks.example.com/incoming",
        "filter_mode": "whitelist"}).json()
    assert edited["inbound_mode"] == "webhook" and edited["filter_mode"] == "whitelist"
    assert api.get("/v1/numbers/pn_abc123").json() == edited


def test_rules_lifecycle(api: Any) -> None:
    caller = unique_e164()
    rule = api.post("/v1/numbers/pn_abc123/rules", json={"exact_number": caller, "action": "block"}).json()
    assert rule["id"].startswith("rule_") and rule["status"] == "active" and rule["number_id"] == "pn_abc123"
    # One live rule per caller number: a second one is a 409.
    again = api.post("/v1/numbers/pn_abc123/rules", json={"exact_number": caller, "action": "allow"})
    assert again.status_code == 409
    paused = api.patch(f"/v1/numbers/pn_abc123/rules/{rule['id']}", json={"status": "paused"}).json()
    assert paused["status"] == "paused"
    assert [r["id"] for r in api.get("/v1/numbers/pn_abc123/rules").json()["data"]] == [rule["id"]]
    deleted = api.delete(f"/v1/numbers/pn_abc123/rules/{rule['id']}").json()
    assert deleted["status"] == "deleted"
    assert api.get("/v1/numbers/pn_abc123/rules").json()["data"] == []
    assert [r["id"] for r in api.get("/v1/numbers/pn_abc123/rules?status=deleted").json()["data"]] == [rule["id"]]
    # The slot is free again once deleted.
    assert api.post("/v1/numbers/pn_abc123/rules", json={"exact_number": caller, "action": "allow"}).status_code == 200
    # A deleted rule is kept until its slot is reused; then it is gone.
    assert api.patch(f"/v1/numbers/pn_abc123/rules/{rule['id']}", json={"status": "active"}).status_code == 404


def test_rules_of_a_missing_number(api: Any) -> None:
    assert api.get("/v1/numbers/pn_missing/rules").status_code == 404
    assert api.post("/v1/numbers/pn_missing/rules", json={"exact_number": unique_e164(), "action": "block"}).status_code == 404


# --- through the carrier: a Twilio-shaped REST server on loopback -----------------------------------

PUBLIC = "https://api.example.com/prod"


@pytest.fixture
def twilio(local_stack: Any) -> Iterator[FakeTwilio]:
    """The API's carrier pointed at a fake Twilio REST API for the length of one test."""
    from chalicelib import runtime

    fake = FakeTwilio().start()
    previous = runtime.current()
    settings = replace(previous.settings, carrier="twilio", twilio_account_sid=fake.account_sid,
                       twilio_auth_token=fake.auth_token, twilio_api_base_url=fake.base_url, public_api_url=PUBLIC)
    runtime.install(runtime.Runtime.from_settings(settings))
    try:
        yield fake
    finally:
        runtime.install(previous)
        fake.stop()


def offer(twilio: FakeTwilio, count: int = 1, *, area: str = "415") -> list[str]:
    numbers = [unique_e164().replace("+1415", f"+1{area}") for _ in range(count)]
    twilio.offer("US", *[available_local(number, locality="San Francisco", region="CA") for number in numbers])
    return numbers


def error_of(response: Any) -> tuple[int, str, Optional[str]]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["param"]


def listed_ids(api: Any) -> set[str]:
    return {number["id"] for number in api.get("/v1/numbers?limit=100").json()["data"]}


def test_search_available(api: Any, twilio: FakeTwilio) -> None:
    # GIVEN the carrier offers three 415 numbers and one 212
    offered = offer(twilio, 3)
    offer(twilio, 1, area="212")
    # WHEN searching 415 with a limit
    page = api.get("/v1/numbers/available", params={"country": "us", "area_code": "415", "limit": 2})
    # THEN the first two 415 numbers come back as public objects
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["object"] == "list" and body["has_more"] is False
    assert body["data"] == [
        {"object": "available_phone_number", "number": number, "locality": "San Francisco", "region": "CA",
         "country": "US", "capabilities": {"voice": True, "sms": True}} for number in offered[:2]
    ]
    sent = twilio.last("GET", "/AvailablePhoneNumbers/US/Local.json")
    assert sent.query["AreaCode"] == ["415"]


@pytest.mark.parametrize("query, param, code", [
    ({"country": "USA"}, "country", "invalid_value"),
    ({"country": "1"}, "country", "invalid_value"),
    ({"area_code": "41"}, "area_code", "invalid_value"),
    ({"area_code": "4155"}, "area_code", "invalid_value"),
    ({"area_code": "abc"}, "area_code", "invalid_value"),
    ({"limit": "0"}, "limit", "invalid_value"),
    ({"limit": "x"}, "limit", "invalid_value"),
    ({"country": "ZZ"}, "country", "country_not_supported"),
    ({"colour": "blue"}, "colour", "unknown_parameter"),
])
def test_search_bad_input_is_400(api: Any, twilio: FakeTwilio, query: dict[str, str], param: str,
                                 code: str) -> None:
    assert error_of(api.get("/v1/numbers/available", params=query)) == (400, code, param)


def test_search_when_twilio_fails_is_a_retryable_503(api: Any, twilio: FakeTwilio) -> None:
    twilio.offer("US")
    twilio.fail_next("GET", "available", status=503, code=20503, message="Service unavailable")
    response = api.get("/v1/numbers/available")
    assert error_of(response)[:2] == (503, "carrier_unavailable") and response.headers["X-Should-Retry"] == "true"


def test_buy_points_the_number_at_this_deployment(api: Any, twilio: FakeTwilio) -> None:
    [number] = offer(twilio)
    bought = api.post("/v1/numbers", json={"number": number})
    assert bought.status_code == 200, bought.text
    doc = bought.json()
    sid = doc["carrier_sid"]
    assert doc["number"] == number and doc["carrier"] == "twilio" and sid in twilio.owned
    assert doc["status"] == "active" and doc["capabilities"] == {"voice": True, "sms": True}
    assert twilio.owned[sid]["voice_url"] == f"{PUBLIC}/twilio/voice"
    assert twilio.owned[sid]["status_callback"] == f"{PUBLIC}/twilio/status"
    assert api.get(f"/v1/numbers/{doc['id']}").json() == doc and doc["id"] in listed_ids(api)


def test_buy_refusals(api: Any, workspace: Any, twilio: FakeTwilio) -> None:
    # not on offer: the carrier's refusal, on the number param
    assert error_of(api.post("/v1/numbers", json={"number": unique_e164()})) == (400, "number_not_available", "number")
    # already registered here: refused before the carrier is asked
    before = len(twilio.requests)
    taken = api.post("/v1/numbers", json={"number": workspace.numbers["pn_abc123"]})
    assert error_of(taken) == (409, "number_already_exists", "number") and len(twilio.requests) == before
    # a carrier outage is a retryable 503 and stores nothing
    [number] = offer(twilio)
    twilio.fail_next("POST", "numbers", status=500, code=20500, message="Internal Server Error")
    ids = listed_ids(api)
    assert error_of(api.post("/v1/numbers", json={"number": number}))[:2] == (503, "carrier_unavailable")
    assert listed_ids(api) == ids


def test_a_bought_number_that_cannot_be_stored_is_released_again(api: Any, twilio: FakeTwilio) -> None:
    # GIVEN another workspace registers the same number while the carrier sells it to us
    from callingbox.core.store.workspaces import create_workspace

    other, _ = create_workspace("rival")
    twilio.on_buy = lambda number: number_store.insert_number(
        str(other["id"]), number_document("pn_rival" + number[-4:], number, carrier="twilio", carrier_sid="PNrival"))
    [number] = offer(twilio)
    # WHEN we buy it
    response = api.post("/v1/numbers", json={"number": number})
    # THEN our store refuses it (409) and the carrier purchase is undone
    assert error_of(response) == (409, "number_already_exists", "number")
    bought = twilio.last("POST", "/IncomingPhoneNumbers.json")
    assert bought.field("PhoneNumber") == number
    assert twilio.last("DELETE", "/IncomingPhoneNumbers/").path.endswith(".json")
    assert not [record for record in twilio.owned.values() if record["phone_number"] == number]


def test_import_adopts_the_number_at_the_carrier(api: Any, twilio: FakeTwilio) -> None:
    number = unique_e164()
    sid = twilio.own(number, voice_url="https://old.example.com/voice")
    created = api.post("/v1/numbers", json={"import": {"number": number, "carrier_sid": sid}})
    assert created.status_code == 200, created.text
    assert created.json()["carrier_sid"] == sid and created.json()["carrier"] == "twilio"
    assert twilio.owned[sid]["voice_url"] == f"{PUBLIC}/twilio/voice"


def test_import_refusals_store_nothing(api: Any, twilio: FakeTwilio) -> None:
    number = unique_e164()
    sid = twilio.own(unique_e164())
    ids = listed_ids(api)
    unknown = api.post("/v1/numbers", json={"import": {"number": number, "carrier_sid": "PN" + "0" * 32}})
    assert error_of(unknown) == (400, "carrier_number_not_found", "import.carrier_sid")
    mismatch = api.post("/v1/numbers", json={"import": {"number": number, "carrier_sid": sid}})
    assert error_of(mismatch) == (400, "carrier_number_mismatch", "import.carrier_sid")
    assert twilio.owned[sid]["voice_url"] == ""
    assert listed_ids(api) == ids


def buy(api: Any, twilio: FakeTwilio) -> dict[str, Any]:
    [number] = offer(twilio)
    response = api.post("/v1/numbers", json={"number": number})
    assert response.status_code == 200, response.text
    return response.json()


def test_release_gives_the_number_back_and_keeps_the_record(api: Any, twilio: FakeTwilio) -> None:
    doc = buy(api, twilio)
    released = api.delete(f"/v1/numbers/{doc['id']}")
    assert released.status_code == 200, released.text
    assert released.json() == {**doc, "status": "released"}
    assert doc["carrier_sid"] not in twilio.owned
    # retrievable by id (historical calls resolve), gone from the list
    assert api.get(f"/v1/numbers/{doc['id']}").json()["status"] == "released"
    assert doc["id"] not in listed_ids(api)
    # releasing again answers the same and does not ask the carrier again
    deletes = [r for r in twilio.requests if r.method == "DELETE"]
    assert api.delete(f"/v1/numbers/{doc['id']}").json()["status"] == "released"
    assert [r for r in twilio.requests if r.method == "DELETE"] == deletes
    # a released number takes no routing edits and no agents
    assert error_of(api.patch(f"/v1/numbers/{doc['id']}", json={"filter_mode": "whitelist"}))[:2] == (
        409, "number_released")
    agent = api.post("/v1/agents", json={"name": "o", "type": "outbound"}).json()
    attach = api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": doc["id"]})
    assert error_of(attach) == (409, "number_released", "number_id")
    # and its E.164 number can be owned again, as a new record
    sid = twilio.own(doc["number"])
    again = api.post("/v1/numbers", json={"import": {"number": doc["number"], "carrier_sid": sid}})
    assert again.status_code == 200 and again.json()["id"] != doc["id"]


@pytest.mark.parametrize("agent_type", ["outbound", "inbound"])
def test_release_is_refused_while_attached(api: Any, twilio: FakeTwilio, agent_type: str) -> None:
    doc = buy(api, twilio)
    agent = api.post("/v1/agents", json={"name": "a", "type": agent_type, "number_ids": [doc["id"]]}).json()
    refused = api.delete(f"/v1/numbers/{doc['id']}")
    assert error_of(refused) == (409, "number_attached", "number_id")
    assert refused.headers["X-Should-Retry"] == "false" and agent["id"] in refused.json()["error"]["message"]
    assert doc["carrier_sid"] in twilio.owned and not [r for r in twilio.requests if r.method == "DELETE"]
    # the refused release left the number usable
    other = api.post("/v1/agents", json={"name": "b", "type": "outbound", "number_ids": [doc["id"]]})
    assert other.status_code == 200, other.text
    # once no live agent holds it (one archived, one detached), it goes
    assert api.post(f"/v1/agents/{agent['id']}/archive").status_code == 200
    assert api.delete(f"/v1/agents/{other.json()['id']}/numbers/{doc['id']}").status_code == 200
    assert api.delete(f"/v1/numbers/{doc['id']}").json()["status"] == "released"


def test_a_carrier_failure_leaves_the_number_unchanged(api: Any, twilio: FakeTwilio) -> None:
    doc = buy(api, twilio)
    twilio.fail_next("DELETE", "number", status=500, code=20500, message="Internal Server Error")
    failed = api.delete(f"/v1/numbers/{doc['id']}")
    assert error_of(failed)[:2] == (503, "carrier_unavailable") and failed.headers["X-Should-Retry"] == "true"
    assert api.get(f"/v1/numbers/{doc['id']}").json() == doc and doc["carrier_sid"] in twilio.owned
    agent = api.post("/v1/agents", json={"name": "o", "type": "outbound", "number_ids": [doc["id"]]})
    assert agent.status_code == 200, agent.text


def test_a_number_the_carrier_no_longer_has_is_released(api: Any, twilio: FakeTwilio) -> None:
    doc = buy(api, twilio)
    del twilio.owned[doc["carrier_sid"]]  # released in the Twilio Console meanwhile
    assert api.delete(f"/v1/numbers/{doc['id']}").json()["status"] == "released"


def race(workspace: Any, requests: list[tuple[str, str, Optional[dict[str, str]]]]) -> list[Any]:
    """Send ``requests`` at the same moment, one client each; their responses in order."""
    barrier = threading.Barrier(len(requests))
    responses: list[Any] = [None] * len(requests)

    def send(index: int, method: str, path: str, body: Optional[dict[str, str]]) -> None:
        with workspace.http() as client:
            barrier.wait()
            responses[index] = client.request(method, path, json=body)

    threads = [threading.Thread(target=send, args=(index, *request)) for index, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_release_and_attach_racing_never_both_win(api: Any, workspace: Any, twilio: FakeTwilio) -> None:
    # GIVEN an outbound agent; WHEN, eight times, a new number is released and attached at once
    agent = api.post("/v1/agents", json={"name": "o", "type": "outbound"}).json()
    for _ in range(8):
        doc = buy(api, twilio)
        release, attach = race(workspace, [("DELETE", f"/v1/numbers/{doc['id']}", None),
                                           ("POST", f"/v1/agents/{agent['id']}/numbers", {"number_id": doc["id"]})])
        results = {"release": release, "attach": attach}
        released, attached = results["release"].status_code, results["attach"].status_code
        # THEN exactly one wins, and the store agrees with the winner
        assert (released, attached) in {(200, 409), (409, 200)}, (results["release"].text, results["attach"].text)
        holds = doc["id"] in api.get(f"/v1/agents/{agent['id']}").json()["number_ids"]
        status = api.get(f"/v1/numbers/{doc['id']}").json()["status"]
        assert (holds, status) == ((True, "active") if attached == 200 else (False, "released"))
        if attached == 200:
            assert api.delete(f"/v1/agents/{agent['id']}/numbers/{doc['id']}").status_code == 200
