"""The SDK calls of seeds 000 and 001, exactly as the public docs write them.

The docs build the client with ``Callingbox()``; here the same call reads the key and base URL
from the environment, and the mock transport comes in through ``http_client=``.
"""

from __future__ import annotations

import httpx
import pytest
from sdk_harness import MockServer, agent_json, body_of, call_json, listing, ok

from callingbox import Callingbox


@pytest.fixture
def client(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> Callingbox:
    monkeypatch.setenv("CALLINGBOX_API_KEY", "sk_seed")
    monkeypatch.setenv("CALLINGBOX_BASE_URL", "http://seed.test")
    return Callingbox(http_client=httpx.Client(transport=httpx.MockTransport(server)))


def test_seed_000_agents(client: Callingbox, server: MockServer) -> None:
    server.default = ok(agent_json())

    agent = client.agents.create(
        name="Appointment reminders",
        type="outbound",
        instructions="Confirm dental appointments. Offer to reschedule if needed.",
        returns={"confirmed": "boolean", "reschedule_to": "string"},
        number_ids=["pn_abc123"],
        primary_number_id="pn_abc123",
    )
    print(agent.id)
    agent = client.agents.create(
        name="Front desk",
        type="inbound",
        instructions="Answer calls for Bright Smiles Dental. Help with hours, directions, and appointment questions.",
        returns={"caller_name": "string", "reason": "string"},
        number_ids=["pn_xyz789"],
    )
    client.agents.attach_number(agent.id, number_id="pn_new", set_as_primary=True)
    client.agents.detach_number(agent.id, number_id="pn_old")
    client.agents.set_primary_number(agent.id, number_id="pn_new")
    client.agents.archive(agent.id)

    assert [(r.method, r.url.path) for r in server.requests] == [
        ("POST", "/v1/agents"),
        ("POST", "/v1/agents"),
        ("POST", "/v1/agents/agent_1/numbers"),
        ("DELETE", "/v1/agents/agent_1/numbers/pn_old"),
        ("POST", "/v1/agents/agent_1/primary_number"),
        ("POST", "/v1/agents/agent_1/archive"),
    ]
    assert all(str(r.url).startswith("http://seed.test/") for r in server.requests)
    assert server.requests[0].headers["Authorization"] == "Bearer sk_seed"


def test_seed_001_inbound(client: Callingbox, server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.reply(ok(agent_json()), ok(agent_json()), ok(agent_json()), ok(agent_json()))
    other_agent = agent_json(id="agent_2")
    calls = [call_json(id="call_1", direction="inbound"), call_json(id="call_2", agent_id="agent_2")]
    server.reply(ok(listing(calls[:1], next_cursor="c1")), ok(listing(calls[1:])))

    agent = client.agents.create(
        name="Front desk",
        type="inbound",
        instructions=(
            "Answer calls for Bright Smiles Dental. Help with hours, "
            "directions, and appointment questions. If the caller wants a "
            "human, take a message with their name and callback number."
        ),
        returns={
            "caller_name": "string",
            "reason": "string",
            "callback_number": "string",
        },
        voicemail_action="hangup",
        number_ids=["pn_xyz789"],
    )
    client.agents.update(
        agent.id,
        instructions="New instructions starting now.",
    )
    client.agents.detach_number(agent.id, number_id="pn_old")
    client.agents.attach_number(other_agent["id"], number_id="pn_old")
    for call in client.calls.iter_calls():
        if call.direction == "inbound" and call.agent_id == agent.id:
            print(call.id, call.to_number, call.result)

    assert body_of(server.requests[0])["voicemail_action"] == "hangup"
    assert body_of(server.requests[1]) == {"instructions": "New instructions starting now."}
    assert capsys.readouterr().out == "call_1 +14155550123 None\n"
