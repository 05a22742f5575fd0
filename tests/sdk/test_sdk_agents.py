"""``client.agents``: every endpoint's method, path, body and returned model."""

from __future__ import annotations

import inspect

import pytest
from sdk_harness import SDK, agent_json, body_of, call_json, listing, ok

from callingbox import NOT_GIVEN, AsyncCallingbox, Callingbox
from callingbox.resources.agents import AGENT_FIELDS, Agents, AsyncAgents
from callingbox.types import Agent, AgentUpdateParams, Call

pytestmark = pytest.mark.anyio


async def test_create_sends_only_the_given_fields(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json(type="outbound")))
    agent = await sdk.run(lambda c: c.agents.create(
        name="Appointment reminders",
        type="outbound",
        instructions="Confirm dental appointments. Offer to reschedule if needed.",
        returns={"confirmed": "boolean", "reschedule_to": "string"},
        number_ids=["pn_abc123"],
        primary_number_id="pn_abc123",
    ))
    assert isinstance(agent, Agent) and agent.type == "outbound"
    request = sdk.server.last
    assert (request.method, request.url.path) == ("POST", "/v1/agents")
    assert body_of(request) == {
        "name": "Appointment reminders",
        "type": "outbound",
        "instructions": "Confirm dental appointments. Offer to reschedule if needed.",
        "returns": {"confirmed": "boolean", "reschedule_to": "string"},
        "number_ids": ["pn_abc123"],
        "primary_number_id": "pn_abc123",
    }


async def test_create_serialises_tool_models(sdk: SDK) -> None:
    from callingbox.types import Tool

    sdk.server.reply(ok(agent_json()))
    tool = Tool(name="lookup", description="Find a booking")
    await sdk.run(lambda c: c.agents.create(name="A", type="inbound", tools=[tool], tool_url="https://t.example"))
    assert body_of(sdk.server.last)["tools"] == [{"name": "lookup", "description": "Find a booking"}]


async def test_update_tells_not_given_from_none(sdk: SDK) -> None:
    # GIVEN an update that clears first_message and changes instructions, leaving the rest alone
    sdk.server.reply(ok(agent_json()))
    await sdk.run(lambda c: c.agents.update("agent_1", first_message=None, instructions="New", voice=NOT_GIVEN))
    # THEN only those two fields are sent, the cleared one as null
    request = sdk.server.last
    assert (request.method, request.url.path) == ("PATCH", "/v1/agents/agent_1")
    assert body_of(request) == {"first_message": None, "instructions": "New"}


async def test_update_with_nothing_sends_an_empty_object(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json()))
    await sdk.run(lambda c: c.agents.update("agent_1"))
    assert body_of(sdk.server.last) == {}


async def test_retrieve(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json(future_field="kept")))
    agent = await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("GET", "/v1/agents/agent_1")
    assert agent.number_ids == ["pn_xyz789"]
    assert agent.model_extra == {"future_field": "kept"}


async def test_list_passes_filters(sdk: SDK) -> None:
    sdk.server.reply(ok(listing([agent_json()])))
    page = await sdk.run(lambda c: c.agents.list(type="inbound", archived=False, limit=5))
    assert sdk.server.last.url.path == "/v1/agents"
    assert dict(sdk.server.last.url.params) == {"type": "inbound", "archived": "false", "limit": "5"}
    assert [agent.id for agent in page.data] == ["agent_1"]
    assert page.has_more is False and page.next_cursor is None


async def test_archive(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json(archived=True)))
    agent = await sdk.run(lambda c: c.agents.archive("agent_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/agents/agent_1/archive")
    assert sdk.server.last.content == b""
    assert agent.archived is True


async def test_number_attachments(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json()), ok(agent_json()), ok(agent_json()), ok(agent_json()))
    await sdk.run(lambda c: c.agents.attach_number("agent_1", number_id="pn_new", set_as_primary=True))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/agents/agent_1/numbers")
    assert body_of(sdk.server.last) == {"number_id": "pn_new", "set_as_primary": True}

    await sdk.run(lambda c: c.agents.attach_number("agent_1", number_id="pn_2"))
    assert body_of(sdk.server.last) == {"number_id": "pn_2"}

    agent = await sdk.run(lambda c: c.agents.detach_number("agent_1", number_id="pn_old"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("DELETE", "/v1/agents/agent_1/numbers/pn_old")
    assert isinstance(agent, Agent)

    await sdk.run(lambda c: c.agents.set_primary_number("agent_1", number_id="pn_new"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/agents/agent_1/primary_number")
    assert body_of(sdk.server.last) == {"number_id": "pn_new"}


async def test_list_calls(sdk: SDK) -> None:
    sdk.server.reply(ok(listing([call_json()])))
    page = await sdk.run(lambda c: c.agents.list_calls("agent_1", status="completed", direction="inbound",
                                                       created_after=100))
    assert sdk.server.last.url.path == "/v1/agents/agent_1/calls"
    assert dict(sdk.server.last.url.params) == {"status": "completed", "direction": "inbound", "created_after": "100"}
    assert isinstance(page.data[0], Call)


def test_update_arguments_match_the_contract() -> None:
    # the SDK's update keywords are the PATCH body's fields, so neither drifts from the other
    assert set(AGENT_FIELDS) == set(AgentUpdateParams.model_fields)
    for resource in (Agents, AsyncAgents):
        update = inspect.signature(resource.update).parameters
        create = inspect.signature(resource.create).parameters
        assert [p for p in update if p not in ("self", "agent_id", "options")] == list(AGENT_FIELDS)
        assert {p for p in create if p not in ("self", "options")} == {"type", *AGENT_FIELDS}


def test_sync_and_async_signatures_are_identical() -> None:
    from callingbox.resources import AsyncCalls, AsyncNumberRules, AsyncNumbers, Calls, NumberRules, Numbers

    pairs = [(Agents, AsyncAgents), (Numbers, AsyncNumbers), (NumberRules, AsyncNumberRules), (Calls, AsyncCalls)]
    pairs.append((Callingbox, AsyncCallingbox))
    for sync_cls, async_cls in pairs:
        sync_names = {name for name in vars(sync_cls) if not name.startswith("_")}
        assert sync_names == {name for name in vars(async_cls) if not name.startswith("_")}
        for name in sync_names:
            sync_member, async_member = getattr(sync_cls, name), getattr(async_cls, name)
            if inspect.isfunction(sync_member):
                assert list(inspect.signature(sync_member).parameters) == list(
                    inspect.signature(async_member).parameters
                ), f"{sync_cls.__name__}.{name}"
