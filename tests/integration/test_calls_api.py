"""Calls over real HTTP: dispatch rules, the snapshot, listing with every filter, cancel."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from callingbox.types import Call


@pytest.fixture
def outbound(api: Any) -> dict[str, Any]:
    body = {
        "name": "Reminders", "type": "outbound",
        "persona": "You are {{clinic}}'s assistant.",
        "instructions": "Confirm {{patient.name}}'s appointment.",
        "first_message": "Hi {{patient.name}}!",
        "returns": {"confirmed": "boolean"},
        "number_ids": ["pn_abc123", "pn_new"], "primary_number_id": "pn_abc123",
        "webhook_url": "https://hooks.example.com/agent",
    }
    response = api.post("/v1/agents", json=body)
    assert response.status_code == 200, response.text
    return response.json()


CONTEXT = {"clinic": "Bright Smiles", "patient": {"name": "Ana"}}


def test_dispatch_snapshots_the_agent_and_fills_placeholders(api: Any, workspace: Any, outbound: dict) -> None:
    # WHEN a call is dispatched with context
    call = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT,
                                       "metadata": {"crm_id": "42"}}).json()
    # THEN it is queued from the primary number with the agent's config frozen and filled in
    Call.model_validate(call)
    assert call["id"].startswith("call_") and call["status"] == "queued" and call["direction"] == "outbound"
    assert call["from_number"] == workspace.numbers["pn_abc123"] and call["to_number"] == "+14155550199"
    snapshot = call["agent_snapshot"]
    assert snapshot["persona"] == "You are Bright Smiles's assistant."
    assert snapshot["instructions"] == call["instructions"] == "Confirm Ana's appointment."
    assert snapshot["first_message"] == "Hi Ana!"
    assert call["webhook_url"] == "https://hooks.example.com/agent" and call["metadata"] == {"crm_id": "42"}
    assert call["result"] is None and call["billable_seconds"] == 0
    # AND editing the agent afterwards leaves the call's snapshot alone
    api.patch(f"/v1/agents/{outbound['id']}", json={"instructions": "Something else"})
    assert api.get(f"/v1/calls/{call['id']}").json()["agent_snapshot"]["instructions"] == "Confirm Ana's appointment."
    next_call = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT}).json()
    assert next_call["instructions"] == "Something else"


def test_dispatch_enqueues_a_dial_job(api: Any, local_stack: Any, workspace: Any, outbound: dict) -> None:
    import boto3

    call = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550198", "context": CONTEXT}).json()
    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    url = local_stack.aws.queue_urls["dial"]
    deadline = time.monotonic() + 10
    seen = []
    while time.monotonic() < deadline and call["id"] not in seen:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(message["Body"])
            seen.append(body["call_id"])
            if body["call_id"] == call["id"]:
                assert body["workspace_id"] == workspace.id
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert call["id"] in seen


def test_overrides(api: Any, workspace: Any, outbound: dict) -> None:
    # instructions replace (not merge), from_number may be any attached number (id or E.164)
    call = api.post("/v1/calls", json={
        "agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT,
        "instructions": "Only ask about parking.", "from_number": workspace.numbers["pn_new"],
        "webhook_url": "https://hooks.example.com/call"}).json()
    assert call["instructions"] == "Only ask about parking."
    assert call["from_number"] == workspace.numbers["pn_new"]
    assert call["webhook_url"] == "https://hooks.example.com/call"
    by_id = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT,
                                        "from_number": "pn_new"}).json()
    assert by_id["from_number"] == workspace.numbers["pn_new"]


@pytest.mark.parametrize("field,value", [("persona", "x"), ("voice", "Matthew"), ("returns", {"a": "string"}),
                                         ("tools", []), ("language", "fr-FR"), ("voicemail_action", "leave_message")])
def test_locked_fields_cannot_be_overridden(api: Any, outbound: dict, field: str, value: Any) -> None:
    response = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT,
                                           field: value})
    assert response.status_code == 400
    assert response.json()["error"] | {"message": None, "request_id": None} == {
        "type": "invalid_request_error", "code": "field_not_overridable", "param": field, "message": None,
        "request_id": None}


def test_dispatch_refusals(api: Any, outbound: dict) -> None:
    bare = api.post("/v1/agents", json={"name": "Bare", "type": "outbound"}).json()
    inbound = api.post("/v1/agents", json={"name": "In", "type": "inbound"}).json()
    cases = [
        ({"agent_id": bare["id"], "to": "+14155550199"}, "no_caller_id", "from_number"),
        ({"agent_id": inbound["id"], "to": "+14155550199"}, "agent_not_outbound", "agent_id"),
        ({"agent_id": outbound["id"], "to": "+14155550199"}, "unknown_variable", "context"),
        ({"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT, "from_number": "pn_old"},
         "from_number_not_attached", "from_number"),
    ]
    before = api.get("/v1/calls").json()["data"]
    for body, code, param in cases:
        response = api.post("/v1/calls", json=body)
        assert response.status_code == 400, (body, response.text)
        assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (code, param)
    assert api.post("/v1/calls", json={"agent_id": "agent_missing", "to": "+14155550199"}).status_code == 404
    api.post(f"/v1/agents/{outbound['id']}/archive")
    archived = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT})
    assert archived.status_code == 400 and archived.json()["error"]["code"] == "agent_archived"
    assert api.get("/v1/calls").json()["data"] == before


def test_list_filters_and_pagination(api: Any, workspace: Any, outbound: dict) -> None:
    other = api.post("/v1/agents", json={"name": "Other", "type": "outbound", "number_ids": ["pn_new"]}).json()
    made = []
    for index in range(5):
        agent = outbound if index % 2 == 0 else other
        body = {"agent_id": agent["id"], "to": f"+1415555019{index}"}
        if agent is outbound:
            body["context"] = CONTEXT
        made.append(api.post("/v1/calls", json=body).json())
    api.post(f"/v1/calls/{made[0]['id']}/cancel")
    newest_first = [call["id"] for call in reversed(made)]

    def ids(query: str) -> list[str]:
        response = api.get(f"/v1/calls?{query}")
        assert response.status_code == 200, response.text
        return [call["id"] for call in response.json()["data"]]

    assert ids("") == newest_first
    assert ids(f"agent_id={outbound['id']}") == [made[4]["id"], made[2]["id"], made[0]["id"]]
    assert ids("status=canceled") == [made[0]["id"]]
    assert ids(f"status=queued&agent_id={outbound['id']}") == [made[4]["id"], made[2]["id"]]
    assert ids("to_number=%2B14155550193") == [made[3]["id"]]
    assert ids(f"from_number=%2B{workspace.numbers['pn_new'][1:]}") == [made[3]["id"], made[1]["id"]]
    assert ids("direction=outbound") == newest_first
    assert ids("direction=inbound") == []
    created = made[0]["created"]
    assert ids(f"created_after={created}&created_before={made[-1]['created']}") == newest_first
    assert ids(f"created_after={made[-1]['created'] + 2}") == []
    assert ids(f"created_before={created - 2}") == []
    per_agent = api.get(f"/v1/agents/{other['id']}/calls").json()["data"]
    assert [call["id"] for call in per_agent] == [made[3]["id"], made[1]["id"]]
    # Walk every page two at a time.
    seen, cursor = [], None
    while True:
        page = api.get("/v1/calls", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [call["id"] for call in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == newest_first
    assert api.get("/v1/calls?status=dialing").status_code == 400
    assert api.get("/v1/calls?created_after=yesterday").status_code == 400
    assert api.get("/v1/agents/agent_missing/calls").status_code == 404


def test_cancel_only_while_queued(api: Any, outbound: dict) -> None:
    call = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT}).json()
    canceled = api.post(f"/v1/calls/{call['id']}/cancel").json()
    assert canceled["status"] == "canceled" and canceled["end_reason"] == "canceled" and canceled["ended_at"]
    assert api.post(f"/v1/calls/{call['id']}/cancel").json()["status"] == "canceled"
    assert api.post("/v1/calls/call_missing/cancel").status_code == 404


def test_features_of_later_components_say_so(api: Any, outbound: dict) -> None:
    call = api.post("/v1/calls", json={"agent_id": outbound["id"], "to": "+14155550199", "context": CONTEXT}).json()
    # Hanging up needs a live call (tests/telephony/test_call_control.py): a queued one is a conflict.
    response = api.post(f"/v1/calls/{call['id']}/hangup")
    assert response.status_code == 409 and response.json()["error"]["code"] == "call_not_in_progress"
    # The transcript is served now (tests/integration/test_transcripts.py): empty until the gateway writes it.
    assert api.get(f"/v1/calls/{call['id']}/transcript").json()["data"] == []
