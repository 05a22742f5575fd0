"""Numbers and filter rules over real HTTP (seeds 001, 004)."""

from __future__ import annotations

from typing import Any

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


def test_buying_and_searching_say_they_need_the_carrier(api: Any) -> None:
    bought = api.post("/v1/numbers", json={"number": unique_e164()})
    assert bought.status_code == 501 and bought.json()["error"]["code"] == "not_implemented"
    assert api.get("/v1/numbers/available?country=US").status_code == 501
    both = api.post("/v1/numbers", json={"number": unique_e164(), "import": {"number": unique_e164(), "carrier_sid": "x"}})
    assert both.status_code == 400


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
