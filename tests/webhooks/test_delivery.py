"""Signed deliveries through the real worker: the Lambda handler fed SQS-shaped batches from the
emulated queue, real HTTP receivers on loopback, backoff scaled down so a day of retries passes
in seconds."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Callable

from callingbox import webhooks
from tests.webhooks.conftest import WorkerDriver
from tests.webhooks.receiver import Receiver, Received


def _endpoint(api: Any, url: str, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/webhook_endpoints", json={"url": url, **body})
    assert response.status_code == 200, response.text
    return response.json()


def _call(api: Any, agent: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def _event(api: Any, call_id: str, event_type: str) -> dict[str, Any]:
    [event] = [e for e in api.get("/v1/events", params={"type": event_type, "limit": 100}).json()["data"]
               if e["data"]["object"]["id"] == call_id]
    return event


def _delivery(api: Any, event_id: str, **match: Any) -> dict[str, Any]:
    deliveries = api.get(f"/v1/events/{event_id}").json()["deliveries"]
    found = [d for d in deliveries if all(d.get(k) == v for k, v in match.items())]
    return found[0] if found else {"status": None, "attempt_count": 0, "attempts": []}


def _signatures(request: Received) -> tuple[int, list[str]]:
    header = request.headers["CallingBox-Signature"]
    assert re.fullmatch(r"t=\d+(,v1=[0-9a-f]{64})+", header), header
    parts = header.split(",")
    return int(parts[0][2:]), [part[3:] for part in parts[1:]]


def _hmac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_a_receiver_failing_five_times_still_gets_one_logical_event(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    # GIVEN an endpoint whose receiver answers 500 five times, then 200
    install_worker(scale=0.001)
    receiver = receivers([500, 500, 500, 500, 500, 200])
    endpoint = _endpoint(api, receiver.url, events=["call.queued"])
    # WHEN a call is dispatched and the worker runs
    call = _call(api, outbound_agent)
    event = _event(api, call["id"], "call.queued")
    driver.run_until({workspace.id}, lambda: _delivery(api, event["id"])["status"] == "succeeded")
    # THEN six attempts arrived, all the same event: same id, same bytes
    requests = receiver.requests
    assert [r.status for r in requests] == [500] * 5 + [200]
    assert {r.headers["CallingBox-Event-Id"] for r in requests} == {event["id"]}
    assert len({r.body for r in requests}) == 1 and json.loads(requests[0].body) == event
    assert [r.headers["CallingBox-Delivery-Attempt"] for r in requests] == ["1", "2", "3", "4", "5", "6"]
    # AND each is signed over its own timestamp, as recomputed here from the secret
    for request in requests:
        timestamp, [signature] = _signatures(request)
        assert signature == _hmac(endpoint["secret"], timestamp, request.body)
    assert webhooks.verify(requests[-1].body, requests[-1].headers, endpoint["secret"]).id == event["id"]
    # AND the API shows every attempt
    delivery = _delivery(api, event["id"])
    assert (delivery["destination"], delivery["endpoint_id"], delivery["url"]) == ("endpoint", endpoint["id"],
                                                                                   receiver.url)
    assert delivery["attempt_count"] == 6 and delivery["next_attempt_at"] is None
    attempts = delivery["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5, 6]
    assert [a["status_code"] for a in attempts] == [500] * 5 + [200]
    assert [a["succeeded"] for a in attempts] == [False] * 5 + [True]
    assert all(isinstance(a["latency_ms"], int) and a["at"] >= event["created"] for a in attempts)
    assert attempts[0]["error"] == "HTTP 500" and attempts[-1]["error"] is None
    # AND nothing more comes (the success ended the chain)
    assert len(receiver.requests) == 6


def test_a_receiver_that_never_succeeds_is_dead_lettered_then_redelivered(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    # GIVEN a receiver that is down (503) and a day of retries scaled to ~4 s
    install_worker(scale=0.00005)
    down = {"value": True}
    receiver = receivers(lambda n: 503 if down["value"] else 200)
    endpoint = _endpoint(api, receiver.url, events=["call.queued"])
    call = _call(api, outbound_agent)
    event = _event(api, call["id"], "call.queued")
    # WHEN the worker retries until the window is spent
    driver.run_until({workspace.id}, lambda: _delivery(api, event["id"])["status"] == "failed", timeout=60)
    # THEN the delivery is dead-lettered, visible through the API with every attempt
    delivery = _delivery(api, event["id"])
    tries = delivery["attempt_count"]
    assert tries >= 3 and delivery["next_attempt_at"] is None
    assert {a["status_code"] for a in delivery["attempts"]} == {503} and len(delivery["attempts"]) == tries
    assert len(receiver.requests) == tries
    # WHEN the receiver is back and the event is redelivered
    down["value"] = False
    redelivered = api.post(f"/v1/events/{event['id']}/redeliver")
    assert redelivered.status_code == 200, redelivered.text
    assert redelivered.json()["deliveries"][0]["status"] == "pending"
    driver.run_until({workspace.id}, lambda: _delivery(api, event["id"])["status"] == "succeeded")
    # THEN it arrives: same id, same body, signed with the endpoint's secret
    last = receiver.requests[-1]
    assert last.status == 200 and last.headers["CallingBox-Event-Id"] == event["id"]
    assert last.body == receiver.requests[0].body
    assert webhooks.verify(last.body, last.headers, endpoint["secret"]).id == event["id"]
    after = _delivery(api, event["id"])
    assert after["attempt_count"] == tries + 1 and after["attempts"][-1]["attempt"] == tries + 1


def test_webhook_url_deliveries_use_the_workspace_secret_and_endpoints_their_filter(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    install_worker(scale=0.001)
    call_hook, canceled_only, disabled = receivers(), receivers(), receivers()
    _endpoint(api, canceled_only.url, events=["call.canceled"])
    _endpoint(api, disabled.url, enabled=False)
    # WHEN a call with its own webhook_url is dispatched and canceled
    call = _call(api, outbound_agent, webhook_url=call_hook.url)
    api.post(f"/v1/calls/{call['id']}/cancel")
    driver.run_until({workspace.id}, lambda: len(call_hook.requests) >= 2 and len(canceled_only.requests) >= 1)
    # THEN the call's webhook_url got both events, signed with the workspace's webhook secret
    secret = api.get("/v1/webhook_secret").json()["secret"]
    kinds = sorted(webhooks.verify(r.body, r.headers, secret).type for r in call_hook.requests)
    assert kinds == ["call.canceled", "call.queued"]
    # AND the filtered endpoint only call.canceled, the disabled one nothing
    assert [json.loads(r.body)["type"] for r in canceled_only.requests] == ["call.canceled"]
    assert disabled.requests == []
    canceled = _event(api, call["id"], "call.canceled")
    destinations = {d["destination"] for d in api.get(f"/v1/events/{canceled['id']}").json()["deliveries"]}
    assert destinations == {"webhook_url", "endpoint"}


def test_during_a_rotation_deliveries_carry_both_signatures(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    install_worker(scale=0.001)
    receiver = receivers()
    endpoint = _endpoint(api, receiver.url)
    rotated = api.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"rotate_secret": True}).json()
    _call(api, outbound_agent)
    driver.run_until({workspace.id}, lambda: len(receiver.requests) >= 1)
    [request] = receiver.requests
    timestamp, signatures = _signatures(request)
    # two v1 values, new secret first: a receiver on either secret verifies
    assert signatures == [_hmac(rotated["secret"], timestamp, request.body),
                          _hmac(endpoint["secret"], timestamp, request.body)]
    for secret in (endpoint["secret"], rotated["secret"]):
        assert webhooks.verify(request.body, request.headers, secret).type == "call.queued"


def test_deleting_an_endpoint_ends_its_pending_retries(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    install_worker(scale=0.001)
    receiver = receivers(500)
    endpoint = _endpoint(api, receiver.url)
    call = _call(api, outbound_agent)
    event = _event(api, call["id"], "call.queued")
    driver.run_until({workspace.id}, lambda: _delivery(api, event["id"])["attempt_count"] >= 2)
    api.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
    driver.run_until({workspace.id}, lambda: _delivery(api, event["id"])["status"] == "failed")
    delivery = _delivery(api, event["id"])
    assert delivery["attempts"][-1]["error"] == "the webhook endpoint was deleted"
    assert delivery["attempts"][-1]["status_code"] is None
    assert len(receiver.requests) == delivery["attempt_count"] - 1


def test_a_webhook_url_resolving_to_a_private_address_is_refused_at_send_time(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    from tests.webhooks.test_backoff_and_resolver import dns

    # GIVEN a hostname that passed the save-time check but resolves to the metadata service
    install_worker(scale=0.001, resolver=dns("169.254.169.254"))
    call = _call(api, outbound_agent, webhook_url="http://hooks.customer.test/cb")
    event = _event(api, call["id"], "call.queued")
    driver.run_until({workspace.id}, lambda: _delivery(api, event["id"])["attempt_count"] >= 1)
    # THEN no request is made and the attempt says why
    attempt = _delivery(api, event["id"])["attempts"][0]
    assert attempt["status_code"] is None and attempt["succeeded"] is False
    assert "169.254.169.254" in attempt["error"] and "link-local" in attempt["error"]


def test_the_handler_reports_only_the_records_that_failed(
        api: Any, workspace: Any, outbound_agent: dict, receivers: Callable[..., Receiver],
        install_worker: Any, driver: WorkerDriver) -> None:
    from callingbox.core.store import deliveries
    from callingbox.local.webhook_worker import sqs_event

    worker = install_worker(scale=0.001)
    _endpoint(api, receivers().url)
    call = _call(api, outbound_agent)
    event = _event(api, call["id"], "call.queued")
    worker.run({"kind": "fan_out", "workspace_id": workspace.id, "event_id": event["id"]})
    [delivery] = deliveries.list_deliveries(workspace.id, event["id"])
    # GIVEN another worker holds attempt 1 right now
    assert deliveries.claim_attempt(workspace.id, event["id"], delivery.key, attempt=1, token="other",
                                    now=worker.clock(), lease_s=60)
    job = {"kind": "deliver", "workspace_id": workspace.id, "event_id": event["id"], "destination": delivery.key,
           "attempt": 1, "not_before": 0}
    messages = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body} for i, body in enumerate(
        ["not json", json.dumps({"kind": "mystery"}), json.dumps(job)])]
    # WHEN a batch holds two junk records and that job
    result = driver.handler(sqs_event(messages, queue_arn="arn:aws:sqs:us-east-1:000000000000:q",
                                      region="us-east-1"), None)
    # THEN junk is dropped (never retried) and only the job goes back to the queue
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
