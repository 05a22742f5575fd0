"""Workspace isolation over real HTTP: a key sees and changes only its own workspace.

Workspace A is the ``workspace`` fixture; workspace B is created the same way conftest does and holds
an outbound agent (on its pn_abc123 and a number only B owns), an inbound agent, filter rules and a
queued call. With A's key every one of B's resources is a 404 ``resource_missing``, every attempt to
change one is a 404 that leaves B (read back with B's key) and A untouched, and A's lists never show
B's ids. The sample number ids (pn_abc123, …) exist in both workspaces as different numbers, which is
exactly where a missing workspace check would show. Requests without a valid key are 401s.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import httpx
import pytest

from tests.support import Workspace, new_workspace, unique_e164

pytestmark = pytest.mark.integration


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def assert_error(response: httpx.Response, status: int, code: Optional[str] = None) -> dict[str, Any]:
    """The response is the error object with ``status`` (and ``code``), its request_id the Request-Id header."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    error = response.json()["error"]
    for name in ("type", "code", "message"):
        assert isinstance(error.get(name), str) and error[name], error
    assert response.headers.get("Request-Id")
    assert error.get("request_id") == response.headers["Request-Id"]
    if code is not None:
        assert error["code"] == code, error
    return error


def ids_of(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["data"]}


@dataclass
class Tenant:
    """A workspace, a client holding its key, and the resources the tests created in it."""

    workspace: Workspace
    api: httpx.Client
    agent: dict[str, Any]
    rule: dict[str, Any]
    call: dict[str, Any]
    inbound: Optional[dict[str, Any]] = None
    own_number: Optional[dict[str, Any]] = None
    own_rule: Optional[dict[str, Any]] = None

    @property
    def ids(self) -> dict[str, str]:
        ids = {"agent": self.agent["id"], "rule": self.rule["id"], "call": self.call["id"]}
        if self.inbound:
            ids["inbound"] = self.inbound["id"]
        if self.own_number and self.own_rule:
            ids.update(number=self.own_number["id"], own_rule=self.own_rule["id"])
        return ids

    def state(self) -> dict[str, Any]:
        """Everything in the workspace, read with its own key."""
        state = {
            "agents": ok(self.api.get("/v1/agents", params={"limit": 100}))["data"],
            "numbers": ok(self.api.get("/v1/numbers", params={"limit": 100}))["data"],
            "calls": ok(self.api.get("/v1/calls", params={"limit": 100}))["data"],
            "call": ok(self.api.get(f"/v1/calls/{self.call['id']}")),
        }
        number_ids = ["pn_abc123"] + ([self.own_number["id"]] if self.own_number else [])
        for number_id in number_ids:
            # The default list holds active and paused rules; deleted ones are listed on request.
            state[f"rules {number_id}"] = ok(self.api.get(f"/v1/numbers/{number_id}/rules"))["data"]
            state[f"deleted rules {number_id}"] = ok(self.api.get(f"/v1/numbers/{number_id}/rules",
                                                                  params={"status": "deleted"}))["data"]
        return state


@pytest.fixture
def a(api: httpx.Client, workspace: Any) -> Tenant:
    """Workspace A (the caller in every test) with an outbound agent, a rule and a call of its own."""
    agent = ok(api.post("/v1/agents", json={"name": "A outbound", "type": "outbound", "number_ids": ["pn_abc123"]}))
    rule = ok(api.post("/v1/numbers/pn_abc123/rules", json={"exact_number": "+14155550171", "action": "block"}))
    call = ok(api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550172"}))
    return Tenant(workspace, api, agent, rule, call)


def make_b(local_stack: Any) -> Iterator[Tenant]:
    """Workspace B, created as conftest creates workspaces, holding the resources A must not reach."""
    workspace = new_workspace(local_stack.api_url, "isolation-b")
    with workspace.http() as client:
        own_number = ok(client.post("/v1/numbers", json={"import": {"number": unique_e164(),
                                                                    "carrier_sid": "PN" + secrets.token_hex(16)}}))
        agent = ok(client.post("/v1/agents", json={
            "name": "B outbound secret", "type": "outbound", "instructions": "B's private instructions",
            "number_ids": ["pn_abc123", own_number["id"]], "primary_number_id": "pn_abc123",
            "metadata": {"tenant": "b"},
        }))
        inbound = ok(client.post("/v1/agents", json={"name": "B front desk", "type": "inbound",
                                                     "number_ids": ["pn_xyz789"]}))
        rule = ok(client.post("/v1/numbers/pn_abc123/rules",
                              json={"exact_number": unique_e164(), "action": "block"}))
        own_rule = ok(client.post(f"/v1/numbers/{own_number['id']}/rules",
                                  json={"exact_number": unique_e164(), "action": "block"}))
        call = ok(client.post("/v1/calls", json={"agent_id": agent["id"], "to": unique_e164(),
                                                 "metadata": {"tenant": "b"}}))
        yield Tenant(workspace, client, agent, rule, call, inbound, own_number, own_rule)


@pytest.fixture(scope="module")
def b(local_stack: Any) -> Iterator[Tenant]:
    """B shared by the tests that expect A to change nothing of it (each compares B before and after)."""
    yield from make_b(local_stack)


@pytest.fixture
def fresh_b(local_stack: Any) -> Iterator[Tenant]:
    """B of its own, for tests in which B itself writes."""
    yield from make_b(local_stack)


# --- reading B's resources with A's key --------------------------------------------------------------

READS = [
    pytest.param("/v1/agents/{agent}", id="agents.retrieve"),
    pytest.param("/v1/agents/{inbound}", id="agents.retrieve-inbound"),
    pytest.param("/v1/agents/{agent}/calls", id="agents.list_calls"),
    pytest.param("/v1/numbers/{number}", id="numbers.retrieve"),
    pytest.param("/v1/numbers/{number}/rules", id="rules.list"),
    pytest.param("/v1/calls/{call}", id="calls.retrieve"),
    pytest.param("/v1/calls/{call}/transcript", id="calls.transcript"),
]


@pytest.mark.parametrize("path", READS)
def test_other_workspace_resources_are_not_found(a: Tenant, b: Tenant, path: str) -> None:
    # GIVEN B's agent, number, rules and call
    # WHEN A's key reads one of them
    response = a.api.get(path.format(**b.ids))
    # THEN it is a 404 resource_missing, exactly as for an id that never existed
    assert_error(response, 404, "resource_missing")
    # AND nothing of B's leaks into the error
    assert "secret" not in response.text and b.call["to_number"] not in response.text
    # AND B's key still finds it
    assert b.api.get(path.format(**b.ids)).status_code != 404


# --- changing B's resources with A's key -------------------------------------------------------------

WRITES = [
    pytest.param("PATCH", "/v1/agents/{agent}", {"name": "hijacked", "webhook_url": "https://evil.example.com/"},
                 id="agents.update"),
    pytest.param("PATCH", "/v1/agents/{agent}", {"number_ids": ["pn_abc123"]}, id="agents.update-numbers"),
    pytest.param("POST", "/v1/agents/{agent}/archive", None, id="agents.archive"),
    pytest.param("POST", "/v1/agents/{inbound}/archive", None, id="agents.archive-inbound"),
    pytest.param("POST", "/v1/agents/{agent}/numbers", {"number_id": "pn_new"}, id="agents.attach_number-a-number"),
    pytest.param("POST", "/v1/agents/{agent}/numbers", {"number_id": "pn_xyz789", "set_as_primary": True},
                 id="agents.attach_number-shared-sample-id"),
    pytest.param("POST", "/v1/agents/{agent}/numbers", {"number_id": "{number}", "set_as_primary": True},
                 id="agents.attach_number-b-number"),
    pytest.param("DELETE", "/v1/agents/{agent}/numbers/pn_abc123", None, id="agents.detach_number"),
    pytest.param("DELETE", "/v1/agents/{inbound}/numbers/pn_xyz789", None, id="agents.detach_number-inbound"),
    pytest.param("POST", "/v1/agents/{agent}/primary_number", {"number_id": "{number}"},
                 id="agents.set_primary_number"),
    pytest.param("PATCH", "/v1/numbers/{number}", {"inbound_mode": "reject", "filter_mode": "whitelist"},
                 id="numbers.update"),
    pytest.param("DELETE", "/v1/numbers/{number}", None, id="numbers.release"),
    pytest.param("POST", "/v1/numbers/{number}/rules", {"exact_number": "+14155550173", "action": "allow"},
                 id="rules.create"),
    pytest.param("PATCH", "/v1/numbers/pn_abc123/rules/{rule}", {"action": "allow", "status": "paused"},
                 id="rules.update-via-a-number"),
    pytest.param("PATCH", "/v1/numbers/{number}/rules/{own_rule}", {"action": "allow"}, id="rules.update"),
    pytest.param("DELETE", "/v1/numbers/pn_abc123/rules/{rule}", None, id="rules.delete-via-a-number"),
    pytest.param("DELETE", "/v1/numbers/{number}/rules/{own_rule}", None, id="rules.delete"),
    pytest.param("POST", "/v1/calls/{call}/cancel", None, id="calls.cancel"),
    pytest.param("POST", "/v1/calls/{call}/hangup", None, id="calls.hangup"),
    pytest.param("POST", "/v1/calls", {"agent_id": "{agent}", "to": "+14155550174"}, id="calls.create-b-agent"),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_other_workspace_resources_cannot_be_changed(a: Tenant, b: Tenant, method: str, path: str,
                                                     body: Optional[dict[str, Any]]) -> None:
    # GIVEN both workspaces as they are
    b_before, a_before = b.state(), a.state()
    # WHEN A's key tries to change one of B's resources
    kwargs = {"json": _fill(body, b.ids)} if body is not None else {}
    response = a.api.request(method, path.format(**b.ids), **kwargs)
    # THEN it is a 404 resource_missing (not a 200, 409 or 501 that would reveal the resource)
    assert_error(response, 404, "resource_missing")
    # AND B, read with B's key, is unchanged, and so is A
    assert b.state() == b_before
    assert a.state() == a_before


def test_idempotency_keys_do_not_cross_workspaces(a: Tenant, fresh_b: Tenant) -> None:
    b = fresh_b
    # GIVEN B created an agent under an Idempotency-Key
    body = {"name": "Same body", "type": "outbound"}
    b_agent = ok(b.api.post("/v1/agents", json=body, headers={"Idempotency-Key": "shared-key-1"}))
    # WHEN A sends the same body under the same key
    response = a.api.post("/v1/agents", json=body, headers={"Idempotency-Key": "shared-key-1"})
    # THEN A gets an agent of its own, not a replay of B's response
    a_agent = ok(response)
    assert a_agent["id"] != b_agent["id"]
    assert "Idempotent-Replayed" not in response.headers
    assert a_agent["id"] in ids_of(ok(a.api.get("/v1/agents")))
    assert_error(b.api.get(f"/v1/agents/{a_agent['id']}"), 404, "resource_missing")


# --- A's lists ---------------------------------------------------------------------------------------


def test_lists_show_only_own_resources(a: Tenant, b: Tenant) -> None:
    # GIVEN both workspaces with agents, numbers, rules and calls
    b_ids = {b.agent["id"], b.inbound["id"], b.own_number["id"], b.rule["id"], b.own_rule["id"], b.call["id"]}
    b_e164 = set(b.workspace.numbers.values()) | {b.own_number["number"]}
    # WHEN A lists everything
    agents = ok(a.api.get("/v1/agents", params={"limit": 100}))
    numbers = ok(a.api.get("/v1/numbers", params={"limit": 100}))
    calls = ok(a.api.get("/v1/calls", params={"limit": 100}))
    rules = [ok(a.api.get("/v1/numbers/pn_abc123/rules", params=params))
             for params in ({}, {"status": "active"}, {"status": "paused"}, {"status": "deleted"})]
    # THEN A sees exactly its own resources and none of B's ids or numbers
    assert ids_of(agents) == {a.agent["id"]}
    assert ids_of(numbers) == set(a.workspace.numbers)
    assert {n["number"] for n in numbers["data"]} == set(a.workspace.numbers.values())
    assert not {n["number"] for n in numbers["data"]} & b_e164
    assert ids_of(calls) == {a.call["id"]}
    assert ids_of(rules[0]) == ids_of(rules[1]) == {a.rule["id"]}
    assert ids_of(rules[2]) == ids_of(rules[3]) == set()
    for page in (agents, numbers, calls, *rules):
        assert not ids_of(page) & b_ids


@pytest.mark.parametrize("filters", [
    pytest.param({"agent_id": "{agent}"}, id="agent_id"),
    pytest.param({"agent_id": "{agent}", "status": "queued"}, id="agent_id-and-status"),
    pytest.param({"to_number": "{to}"}, id="to_number"),
    pytest.param({"from_number": "{from}"}, id="from_number"),
    pytest.param({"status": "queued", "direction": "outbound"}, id="status-and-direction"),
])
def test_filtered_call_lists_show_only_own_calls(a: Tenant, b: Tenant, filters: dict[str, str]) -> None:
    # GIVEN a queued outbound call in each workspace
    values = {**b.ids, "to": b.call["to_number"], "from": b.call["from_number"]}
    # WHEN A filters its calls by B's agent, B's numbers or a status both calls share
    page = ok(a.api.get("/v1/calls", params={name: value.format(**values) for name, value in filters.items()}))
    # THEN B's call is never among them
    assert b.call["id"] not in ids_of(page)
    assert ids_of(page) <= {a.call["id"]}


def test_paging_never_crosses_workspaces(a: Tenant, b: Tenant) -> None:
    # GIVEN B has two agents, so a page of one has a cursor
    b_page = ok(b.api.get("/v1/agents", params={"limit": 1}))
    assert b_page["has_more"] and b_page["next_cursor"]
    # WHEN A pages its agents one at a time, and also replays B's cursor
    seen: list[str] = []
    cursor: Optional[str] = None
    while True:
        page = ok(a.api.get("/v1/agents", params={"limit": 1, **({"cursor": cursor} if cursor else {})}))
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    with_b_cursor = a.api.get("/v1/agents", params={"limit": 100, "cursor": b_page["next_cursor"]})
    # THEN A only ever sees its own agents
    assert seen == [a.agent["id"]]
    if with_b_cursor.status_code == 200:
        assert ids_of(with_b_cursor.json()) <= {a.agent["id"]}
    else:
        assert_error(with_b_cursor, 400)


# --- B's numbers from A's agents ---------------------------------------------------------------------


def test_a_cannot_put_b_numbers_on_its_agents(a: Tenant, b: Tenant) -> None:
    # GIVEN a number only B owns
    b_number = b.own_number
    b_before, a_agents = b.state(), ok(a.api.get("/v1/agents"))
    # WHEN A creates an agent with it, attaches it, patches it in, or makes it the primary number
    attempts = [
        a.api.post("/v1/agents", json={"name": "thief", "type": "outbound", "number_ids": [b_number["id"]]}),
        a.api.post("/v1/agents", json={"name": "thief", "type": "inbound", "number_ids": [b_number["id"]]}),
        a.api.post(f"/v1/agents/{a.agent['id']}/numbers", json={"number_id": b_number["id"]}),
        a.api.patch(f"/v1/agents/{a.agent['id']}", json={"number_ids": ["pn_abc123", b_number["id"]]}),
    ]
    # THEN each is a 404 naming the number
    for response in attempts:
        assert assert_error(response, 404, "resource_missing")["param"] == "number_id"
    # AND setting it as primary is refused because A's agent does not hold it
    assert_error(a.api.post(f"/v1/agents/{a.agent['id']}/primary_number", json={"number_id": b_number["id"]}), 400)
    # AND neither workspace changed
    assert ok(a.api.get("/v1/agents")) == a_agents
    assert b.state() == b_before


@pytest.mark.parametrize("from_number", ["b-number-id", "b-number-e164", "b-sample-e164"])
def test_a_cannot_call_from_b_numbers(a: Tenant, b: Tenant, from_number: str) -> None:
    # GIVEN B's numbers: one only B has, and B's pn_abc123 (A has a different pn_abc123)
    value = {"b-number-id": b.own_number["id"], "b-number-e164": b.own_number["number"],
             "b-sample-e164": b.workspace.numbers["pn_abc123"]}[from_number]
    a_calls, b_calls = ok(a.api.get("/v1/calls"))["data"], ok(b.api.get("/v1/calls"))["data"]
    # WHEN A's agent dispatches a call from it
    response = a.api.post("/v1/calls", json={"agent_id": a.agent["id"], "to": "+14155550175", "from_number": value})
    # THEN it is a 400 naming from_number, and no call exists anywhere
    assert assert_error(response, 400)["param"] == "from_number"
    assert ok(a.api.get("/v1/calls"))["data"] == a_calls
    assert ok(b.api.get("/v1/calls"))["data"] == b_calls


def test_same_sample_number_id_is_answered_separately(a: Tenant, b: Tenant) -> None:
    # GIVEN B's inbound agent answers B's pn_xyz789
    assert ok(b.api.get("/v1/numbers/pn_xyz789"))["inbound_agent_id"] == b.inbound["id"]
    # WHEN A's inbound agent takes A's pn_xyz789 (same id, another number)
    a_inbound = ok(a.api.post("/v1/agents", json={"name": "A front desk", "type": "inbound",
                                                  "number_ids": ["pn_xyz789"]}))
    # THEN each workspace's number is answered by its own agent
    assert ok(a.api.get("/v1/numbers/pn_xyz789"))["inbound_agent_id"] == a_inbound["id"]
    assert ok(b.api.get("/v1/numbers/pn_xyz789"))["inbound_agent_id"] == b.inbound["id"]
    # AND A archiving its agent releases only A's number
    ok(a.api.post(f"/v1/agents/{a_inbound['id']}/archive"))
    assert ok(a.api.get("/v1/numbers/pn_xyz789"))["inbound_agent_id"] is None
    assert ok(b.api.get("/v1/numbers/pn_xyz789"))["inbound_agent_id"] == b.inbound["id"]


# --- authentication ----------------------------------------------------------------------------------

ENDPOINTS = [
    pytest.param("GET", "/v1/agents", None, id="agents.list"),
    pytest.param("POST", "/v1/agents", {"name": "anon", "type": "outbound"}, id="agents.create"),
    pytest.param("GET", "/v1/agents/{agent}", None, id="agents.retrieve"),
    pytest.param("PATCH", "/v1/agents/{agent}", {"name": "anon"}, id="agents.update"),
    pytest.param("GET", "/v1/numbers", None, id="numbers.list"),
    pytest.param("POST", "/v1/calls", {"agent_id": "{agent}", "to": "+14155550176"}, id="calls.create"),
    pytest.param("POST", "/v1/calls/{call}/cancel", None, id="calls.cancel"),
]

BAD_AUTHORIZATION = [
    pytest.param(lambda key: "Bearer", id="scheme-only"),
    pytest.param(lambda key: f"Bearer {key} {key}", id="two-tokens"),
    pytest.param(lambda key: key, id="key-without-scheme"),
    pytest.param(lambda key: f"Basic {key}", id="basic-scheme"),
    pytest.param(lambda key: f"Token {key}", id="token-scheme"),
    pytest.param(lambda key: "", id="empty-header"),
]

UNKNOWN_KEYS = [
    pytest.param(lambda key: "cb_live_" + secrets.token_urlsafe(32), id="well-formed-unknown"),
    pytest.param(lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"), id="last-character-changed"),
    pytest.param(lambda key: key + "x", id="key-with-suffix"),
    pytest.param(lambda key: "sk_test_" + secrets.token_hex(16), id="foreign-prefix"),
    pytest.param(lambda key: "cb_live_x", id="too-short"),
]


def _anonymous(a: Tenant, authorization: Optional[str]) -> httpx.Client:
    headers = {} if authorization is None else {"Authorization": authorization}
    return httpx.Client(base_url=a.workspace.base_url, headers=headers, timeout=30)


def _assert_unauthenticated_everywhere(a: Tenant, client: httpx.Client) -> None:
    before = a.state()
    for param in ENDPOINTS:
        method, path, body = param.values
        kwargs = {"json": _fill(body, a.ids)} if body is not None else {}
        response = client.request(method, path.format(**a.ids), **kwargs)
        # THEN each request is a 401 error object that reveals nothing of the workspace
        assert_error(response, 401)
        assert a.agent["id"] not in response.text and "A outbound" not in response.text
    # AND nothing was written
    assert a.state() == before


def test_no_key_is_401(a: Tenant) -> None:
    # GIVEN a client that sends no Authorization header
    with _anonymous(a, None) as client:
        # WHEN it calls authenticated endpoints (THEN 401, nothing written)
        _assert_unauthenticated_everywhere(a, client)


@pytest.mark.parametrize("make_header", BAD_AUTHORIZATION)
def test_malformed_authorization_is_401(a: Tenant, make_header: Any) -> None:
    # GIVEN a client whose Authorization header is not "Bearer <key>" (though it carries A's real key)
    with _anonymous(a, make_header(a.workspace.api_key)) as client:
        # WHEN it calls authenticated endpoints (THEN 401, nothing written)
        _assert_unauthenticated_everywhere(a, client)


@pytest.mark.parametrize("make_key", UNKNOWN_KEYS)
def test_unknown_key_is_401(a: Tenant, make_key: Any) -> None:
    # GIVEN a client with a well-formed header but a key no workspace holds
    with _anonymous(a, f"Bearer {make_key(a.workspace.api_key)}") as client:
        # WHEN it calls authenticated endpoints (THEN 401, nothing written)
        _assert_unauthenticated_everywhere(a, client)


def test_401_comes_before_404(a: Tenant, b: Tenant) -> None:
    # GIVEN B's agent and no key
    with _anonymous(a, None) as client:
        # WHEN it is read without a key, and an id that exists nowhere is read too
        found = client.get(f"/v1/agents/{b.agent['id']}")
        missing = client.get("/v1/agents/agent_doesnotexist")
    # THEN both are the same 401: no key cannot learn whether an id exists
    assert assert_error(found, 401)["code"] == assert_error(missing, 401)["code"]


def test_b_key_still_works_after_a_attempts(a: Tenant, fresh_b: Tenant) -> None:
    b = fresh_b
    # GIVEN A tried to archive B's agent and cancel B's call
    assert_error(a.api.post(f"/v1/agents/{b.agent['id']}/archive"), 404, "resource_missing")
    assert_error(a.api.post(f"/v1/calls/{b.call['id']}/cancel"), 404, "resource_missing")
    # WHEN B uses its own key on them
    agent = ok(b.api.get(f"/v1/agents/{b.agent['id']}"))
    canceled = ok(b.api.post(f"/v1/calls/{b.call['id']}/cancel"))
    # THEN B's agent was never archived and B can still cancel its own call
    assert agent == b.agent and agent["archived"] is False
    assert canceled["status"] == "canceled"
