"""Races over real HTTP against the threaded API: what must happen exactly once does."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

CONCURRENCY = 20


def _in_parallel(workspace: Any, send: Any, count: int = CONCURRENCY) -> list[httpx.Response]:
    def one(index: int) -> httpx.Response:
        with workspace.http() as client:
            return send(client, index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_twenty_inbound_agents_race_for_one_number(api: Any, workspace: Any) -> None:
    # GIVEN 20 inbound agents without numbers
    agents = [api.post("/v1/agents", json={"name": f"in{i}", "type": "inbound"}).json()["id"]
              for i in range(CONCURRENCY)]
    # WHEN all attach the same number at once
    responses = _in_parallel(workspace, lambda client, i: client.post(
        f"/v1/agents/{agents[i]}/numbers", json={"number_id": "pn_xyz789"}))
    # THEN exactly one wins and the others get a permanent 409
    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [409] * (CONCURRENCY - 1), [r.text for r in responses if r.status_code not in (200, 409)]
    winner = next(agents[i] for i, response in enumerate(responses) if response.status_code == 200)
    losers = [response for response in responses if response.status_code == 409]
    assert all(r.json()["error"]["code"] == "number_already_attached" for r in losers)
    assert all(r.headers["x-should-retry"] == "false" for r in losers)
    # AND the stored state agrees: the number names the winner, only the winner lists the number
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] == winner
    holders = [a["id"] for a in api.get("/v1/agents?type=inbound&limit=100").json()["data"]
               if "pn_xyz789" in a["number_ids"]]
    assert holders == [winner]


def test_outbound_agents_share_a_number_concurrently(api: Any, workspace: Any) -> None:
    agents = [api.post("/v1/agents", json={"name": f"out{i}", "type": "outbound"}).json()["id"] for i in range(10)]
    responses = _in_parallel(workspace, lambda client, i: client.post(
        f"/v1/agents/{agents[i]}/numbers", json={"number_id": "pn_abc123"}), count=10)
    assert [r.status_code for r in responses] == [200] * 10


def test_one_idempotency_key_creates_one_call(api: Any, workspace: Any) -> None:
    agent = api.post("/v1/agents", json={"name": "Out", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    key = str(uuid.uuid4())
    body = {"agent_id": agent["id"], "to": "+14155550123"}
    # WHEN 20 identical requests with one key arrive at once
    responses = _in_parallel(workspace, lambda client, i: client.post("/v1/calls", json=body,
                                                                      headers={"Idempotency-Key": key}))
    # THEN every one answers with the same call, and only one call exists
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    calls = api.get(f"/v1/calls?agent_id={agent['id']}").json()["data"]
    assert [c["id"] for c in calls] == [responses[0].json()["id"]]
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == CONCURRENCY - 1


def test_idempotency_key_reused_with_another_body_is_a_permanent_conflict(api: Any) -> None:
    agent = api.post("/v1/agents", json={"name": "Out", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    key = str(uuid.uuid4())
    first = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"}, headers={"Idempotency-Key": key})
    replay = api.post("/v1/calls", json={"to": "+14155550123", "agent_id": agent["id"]},
                      headers={"Idempotency-Key": key})
    assert replay.json() == first.json()  # key order does not make a different body
    other = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550124"}, headers={"Idempotency-Key": key})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.headers["x-should-retry"] == "false"
    assert len(api.get(f"/v1/calls?agent_id={agent['id']}").json()["data"]) == 1


def test_a_refusal_is_replayed_too(api: Any) -> None:
    key = str(uuid.uuid4())
    first = api.post("/v1/calls", json={"agent_id": "agent_missing", "to": "+14155550123"},
                     headers={"Idempotency-Key": key})
    again = api.post("/v1/calls", json={"agent_id": "agent_missing", "to": "+14155550123"},
                     headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 404
    assert again.headers.get("idempotent-replayed") == "true"


def test_idempotency_keys_are_per_workspace(api: Any, workspace: Any, local_stack: Any) -> None:
    from tests.support import new_workspace

    other_key = new_workspace(local_stack.api_url, "other").api_key
    key = str(uuid.uuid4())
    mine = api.post("/v1/agents", json={"name": "A", "type": "outbound"}, headers={"Idempotency-Key": key})
    with httpx.Client(base_url=local_stack.api_url, headers={"Authorization": f"Bearer {other_key}"}) as other:
        theirs = other.post("/v1/agents", json={"name": "A", "type": "outbound"}, headers={"Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["id"] != theirs.json()["id"]
