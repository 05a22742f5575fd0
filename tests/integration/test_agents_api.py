"""Agents over real HTTP: defaults, rules, edits, archive, attachments (seeds 000, 001, 003)."""

from __future__ import annotations

from typing import Any

from callingbox.types import Agent
from callingbox.types.agent import DEFAULT_PERSONA


def _create(api: Any, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/agents", json={"name": "Agent", "type": "outbound", **fields})
    assert response.status_code == 200, response.text
    return response.json()


def test_create_fills_defaults_and_round_trips(api: Any) -> None:
    # GIVEN an agent with only a name and a type
    agent = _create(api)
    # THEN it has an id, the default persona and every documented default
    assert agent["id"].startswith("agent_") and agent["object"] == "agent"
    assert agent["persona"] == DEFAULT_PERSONA
    assert agent["voicemail_action"] == "hangup"
    assert agent["interruption_threshold"] == 0.5 and agent["context_window"] == 10
    assert agent["record"] is True and agent["archived"] is False
    assert agent["first_message"] is None
    Agent.model_validate(agent)
    assert api.get(f"/v1/agents/{agent['id']}").json() == agent


def test_first_number_becomes_primary(api: Any) -> None:
    agent = _create(api, number_ids=["pn_abc123", "pn_new"])
    assert agent["primary_number_id"] == "pn_abc123"


def test_tools_need_a_tool_url(api: Any) -> None:
    tools = [{"name": "lookup", "description": "Find a booking", "parameters": {"type": "object"}}]
    response = api.post("/v1/agents", json={"name": "A", "type": "outbound", "tools": tools})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_url"
    agent = _create(api, tools=tools, tool_url="https://tools.example.com/invoke")
    assert agent["tools"][0]["name"] == "lookup"


def test_returns_in_both_forms(api: Any) -> None:
    assert _create(api, returns={"confirmed": "boolean", "when": "date", "outcome": ["a", "b"]})["returns"]
    full = {"type": "object", "properties": {"confirmed": {"type": "boolean"}}}
    assert _create(api, returns=full)["returns"] == full


def test_type_is_fixed_and_edits_apply(api: Any) -> None:
    agent = _create(api, instructions="old", first_message="Hello")
    # WHEN type is patched THEN it is refused and nothing changes
    refused = api.patch(f"/v1/agents/{agent['id']}", json={"type": "inbound"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "type"
    # WHEN instructions change and first_message is cleared with null
    edited = api.patch(f"/v1/agents/{agent['id']}", json={"instructions": "new", "first_message": None}).json()
    assert edited["instructions"] == "new" and edited["first_message"] is None
    assert edited["type"] == "outbound" and edited["name"] == agent["name"]
    assert edited["updated"] >= agent["updated"]


def test_patch_keeps_cross_field_rules(api: Any) -> None:
    agent = _create(api, tools=[{"name": "t"}], tool_url="https://tools.example.com/")
    response = api.patch(f"/v1/agents/{agent['id']}", json={"tool_url": None})
    assert response.status_code == 400 and response.json()["error"]["param"] == "tool_url"
    assert api.get(f"/v1/agents/{agent['id']}").json()["tool_url"] == "https://tools.example.com/"


def test_list_filters_and_pages_newest_first(api: Any) -> None:
    made = [_create(api, name=f"out{i}")["id"] for i in range(3)]
    inbound = api.post("/v1/agents", json={"name": "in", "type": "inbound"}).json()["id"]
    api.post(f"/v1/agents/{made[0]}/archive")
    assert [a["id"] for a in api.get("/v1/agents").json()["data"]] == [inbound, *reversed(made)]
    assert [a["id"] for a in api.get("/v1/agents?type=inbound").json()["data"]] == [inbound]
    assert [a["id"] for a in api.get("/v1/agents?archived=true").json()["data"]] == [made[0]]
    first = api.get("/v1/agents?limit=2").json()
    assert first["has_more"] is True and len(first["data"]) == 2
    second = api.get(f"/v1/agents?limit=2&cursor={first['next_cursor']}").json()
    assert second["has_more"] is False and second["next_cursor"] is None
    assert [a["id"] for a in first["data"] + second["data"]] == [inbound, *reversed(made)]


def test_attach_detach_and_primary(api: Any) -> None:
    agent = _create(api, number_ids=["pn_abc123"])
    attached = api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": "pn_new", "set_as_primary": True})
    assert attached.json()["number_ids"] == ["pn_abc123", "pn_new"]
    assert attached.json()["primary_number_id"] == "pn_new"
    detached = api.delete(f"/v1/agents/{agent['id']}/numbers/pn_new").json()
    assert detached["number_ids"] == ["pn_abc123"] and detached["primary_number_id"] == "pn_abc123"
    # Detaching what is not attached changes nothing.
    assert api.delete(f"/v1/agents/{agent['id']}/numbers/pn_old").json()["number_ids"] == ["pn_abc123"]
    refused = api.post(f"/v1/agents/{agent['id']}/primary_number", json={"number_id": "pn_old"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "number_not_attached"
    missing = api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": "pn_nope"})
    assert missing.status_code == 404


def test_one_inbound_agent_per_number_but_outbound_agents_share(api: Any) -> None:
    # GIVEN an inbound agent answering pn_xyz789
    front = api.post("/v1/agents", json={"name": "Front", "type": "inbound", "number_ids": ["pn_xyz789"]}).json()
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] == front["id"]
    # WHEN a second inbound agent claims it THEN 409, permanent, and nothing is written
    before = api.get("/v1/agents").json()["data"]
    second = api.post("/v1/agents", json={"name": "Other", "type": "inbound", "number_ids": ["pn_xyz789"]})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "number_already_attached"
    assert second.headers["x-should-retry"] == "false"
    assert api.get("/v1/agents").json()["data"] == before
    # AND any number of outbound agents may use it as caller id
    for name in ("o1", "o2"):
        assert _create(api, name=name, number_ids=["pn_xyz789"])["number_ids"] == ["pn_xyz789"]
    # WHEN the inbound agent detaches it, another inbound agent can take it
    api.delete(f"/v1/agents/{front['id']}/numbers/pn_xyz789")
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] is None
    taker = api.post("/v1/agents", json={"name": "Taker", "type": "inbound", "number_ids": ["pn_xyz789"]})
    assert taker.status_code == 200
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] == taker.json()["id"]


def test_archive_frees_numbers_and_freezes_the_agent(api: Any) -> None:
    agent = api.post("/v1/agents", json={"name": "In", "type": "inbound", "number_ids": ["pn_old"]}).json()
    archived = api.post(f"/v1/agents/{agent['id']}/archive").json()
    assert archived["archived"] is True
    assert api.post(f"/v1/agents/{agent['id']}/archive").json()["archived"] is True  # idempotent
    # An archived agent answers no number...
    assert api.get("/v1/numbers/pn_old").json()["inbound_agent_id"] is None
    # ...and takes no edits or numbers.
    assert api.patch(f"/v1/agents/{agent['id']}", json={"name": "x"}).status_code == 409
    assert api.post(f"/v1/agents/{agent['id']}/numbers", json={"number_id": "pn_new"}).status_code == 409
    # The number can be answered by a new inbound agent.
    assert api.post("/v1/agents", json={"name": "New", "type": "inbound", "number_ids": ["pn_old"]}).status_code == 200


def test_patch_number_ids_claims_and_releases(api: Any) -> None:
    agent = api.post("/v1/agents", json={"name": "In", "type": "inbound", "number_ids": ["pn_abc123"]}).json()
    edited = api.patch(f"/v1/agents/{agent['id']}", json={"number_ids": ["pn_new"]}).json()
    # The old primary left with its number; the first remaining number takes over.
    assert edited["number_ids"] == ["pn_new"] and edited["primary_number_id"] == "pn_new"
    assert api.get("/v1/numbers/pn_abc123").json()["inbound_agent_id"] is None
    assert api.get("/v1/numbers/pn_new").json()["inbound_agent_id"] == agent["id"]
