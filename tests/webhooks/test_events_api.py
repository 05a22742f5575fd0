"""Events over real HTTP: emitted at call creation and cancel, stored once per state change,
listed and retrieved, and put on the EventBridge bus where a rule with an SQS target gets them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from callingbox.core.call_states import CallStatus
from callingbox.core.events import EVENT_TYPES, emit_call_event, event_for_transition
from callingbox.types import Event


def _call(api: Any, agent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def _events_of(api: Any, call_id: str, **query: Any) -> list[dict[str, Any]]:
    page = api.get("/v1/events", params={"limit": 100, **query}).json()
    return [event for event in page["data"] if event["data"]["object"]["id"] == call_id]


def test_creating_a_call_emits_call_queued(api: Any, outbound_agent: dict) -> None:
    # WHEN a call is dispatched
    call = _call(api, outbound_agent)
    # THEN one call.queued event carries the call as data.object
    [event] = _events_of(api, call["id"])
    Event.model_validate(event)
    assert event["id"].startswith("evt_") and event["object"] == "event" and event["type"] == "call.queued"
    assert event["data"]["object"] == call and isinstance(event["created"], int)
    # AND retrieving it adds its deliveries (none: no webhook_url and no endpoint)
    retrieved = api.get(f"/v1/events/{event['id']}").json()
    assert retrieved["deliveries"] == [] and {k: v for k, v in retrieved.items() if k != "deliveries"} == event


def test_cancel_emits_call_canceled_once(api: Any, outbound_agent: dict) -> None:
    call = _call(api, outbound_agent)
    canceled = api.post(f"/v1/calls/{call['id']}/cancel").json()
    again = api.post(f"/v1/calls/{call['id']}/cancel")
    assert again.status_code == 200
    events = _events_of(api, call["id"])
    assert [e["type"] for e in events] == ["call.canceled", "call.queued"]  # newest first, one each
    assert events[0]["data"]["object"]["status"] == "canceled" == canceled["status"]
    # the type filter
    assert [e["type"] for e in _events_of(api, call["id"], type="call.canceled")] == ["call.canceled"]


def test_a_retried_emitter_never_makes_two_events(local_stack: Any, workspace: Any, api: Any,
                                                  outbound_agent: dict) -> None:
    from callingbox.core.settings import Settings

    settings = Settings.from_env(local_stack.environment)
    call = _call(api, outbound_agent)
    ringing = {**call, "status": "ringing"}
    first = emit_call_event(settings, workspace.id, "call.ringing", ringing)
    second = emit_call_event(settings, workspace.id, "call.ringing", {**ringing, "updated": 1})
    assert first == second  # same id, same body: the second emit found the first
    # a caller-made key for a repeatable type makes a new event per key
    key = f"{call['id']}:call.completed:{uuid.uuid4().hex}"
    third = emit_call_event(settings, workspace.id, "call.completed", call, dedupe_key=key)
    assert emit_call_event(settings, workspace.id, "call.completed", call, dedupe_key=key)["id"] == third["id"]
    assert [e["type"] for e in _events_of(api, call["id"])] == ["call.completed", "call.ringing", "call.queued"]
    with pytest.raises(ValueError):
        emit_call_event(settings, workspace.id, "call.exploded", call)


def test_event_for_transition_follows_the_state_machine() -> None:
    assert event_for_transition("ringing") == "call.ringing"
    assert event_for_transition(CallStatus.IN_PROGRESS) == "call.answered"
    assert event_for_transition("no_answer") == "call.no_answer"
    assert event_for_transition("canceled") == "call.canceled"
    assert event_for_transition("completed") is None  # emitted after post-call processing


def test_event_types_agree_everywhere() -> None:
    from callingbox.core import operations
    from callingbox.types import EVENT_TYPES as PUBLIC_TYPES

    assert EVENT_TYPES == PUBLIC_TYPES == operations.EVENT_TYPES
    assert set(EVENT_TYPES) >= {event_for_transition(status) for status in CallStatus} - {None}


def test_an_eventbridge_rule_with_an_sqs_target_receives_the_event(local_stack: Any, api: Any, workspace: Any,
                                                                  outbound_agent: dict, driver: Any) -> None:
    import boto3

    # GIVEN a customer's rule on the bus: call.queued events to their own queue
    endpoint = local_stack.aws.endpoint_url
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
    name = f"customer-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName="callingbox",
                    EventPattern=json.dumps({"source": ["callingbox"], "detail-type": ["call.queued"]}))
    events.put_targets(Rule=name, EventBusName="callingbox", Targets=[{"Id": "customer", "Arn": queue_arn}])
    try:
        # WHEN a call is dispatched
        call = _call(api, outbound_agent)
        [event] = _events_of(api, call["id"])
        # THEN the fan-out job puts it on the bus (once), and the rule's queue gets the EventBridge
        # envelope whose detail is the event itself
        found: list[dict[str, Any]] = []

        def arrived() -> bool:
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
                envelope = json.loads(message["Body"])
                if envelope["detail"]["id"] == event["id"]:
                    found.append(envelope)
            return bool(found)

        from callingbox.core.store.events import get_event

        stored = get_event(workspace.id, event["id"])
        assert not stored.published and not stored.fanned_out  # the emitter only stored and queued it
        driver.run_until({workspace.id}, arrived)
        time.sleep(1)
        arrived()  # anything more that came
        assert len(found) == 1, "the event reached the bus twice"
        stored = get_event(workspace.id, event["id"])
        assert stored.published and stored.fanned_out
        [envelope] = found
        assert envelope["source"] == "callingbox" and envelope["detail-type"] == "call.queued"
        assert envelope["detail"] == event
    finally:
        events.remove_targets(Rule=name, EventBusName="callingbox", Ids=["customer"])
        events.delete_rule(Name=name, EventBusName="callingbox")
        sqs.delete_queue(QueueUrl=queue_url)


@pytest.mark.parametrize("method, path, params, body, status, code, param", [
    ("GET", "/v1/events", {"type": "call.exploded"}, None, 400, "invalid_value", "type"),
    ("GET", "/v1/events", {"limit": "0"}, None, 400, "invalid_value", "limit"),
    ("GET", "/v1/events", {"cursor": "bm9wZQ"}, None, 400, "invalid_cursor", "cursor"),
    ("GET", "/v1/events", {"call": "x"}, None, 400, "unknown_parameter", "call"),
    ("GET", "/v1/events/evt_missing", None, None, 404, "resource_missing", "event_id"),
    ("POST", "/v1/events/evt_missing/redeliver", None, None, 404, "resource_missing", "event_id"),
    ("POST", "/v1/events/evt_missing/redeliver", None, {"now": True}, 400, "unknown_field", "now"),
    ("POST", "/v1/events/evt_missing/redeliver", None, [1], 400, "invalid_body", None),
])
def test_bad_input_is_a_4xx_with_code_and_param(api: Any, method: str, path: str, params: Any, body: Any,
                                                status: int, code: str, param: Any) -> None:
    response = api.request(method, path, params=params, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)


def test_events_are_invisible_to_other_workspaces(local_stack: Any, api: Any, outbound_agent: dict) -> None:
    from tests.support import new_workspace

    call = _call(api, outbound_agent)
    [event] = _events_of(api, call["id"])
    with new_workspace(local_stack.api_url, "other").http() as other:
        assert other.get(f"/v1/events/{event['id']}").status_code == 404
        assert other.post(f"/v1/events/{event['id']}/redeliver").status_code == 404
        assert all(e["id"] != event["id"] for e in other.get("/v1/events").json()["data"])
