"""Every SDK snippet of seeds 000 and 001, verbatim, against the real local stack.

The snippets are executed as written (``Callingbox()`` reads the key and URL from the
environment, as a developer's shell would after loading ``.callingbox/local.env``). The only
addition is ``other_agent``, which seed 001 uses without defining.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

SEED_000 = [
    '''
from callingbox import Callingbox

client = Callingbox()

agent = client.agents.create(
    name="Appointment reminders",
    type="outbound",
    instructions="Confirm dental appointments. Offer to reschedule if needed.",
    returns={"confirmed": "boolean", "reschedule_to": "string"},
    number_ids=["pn_abc123"],
    primary_number_id="pn_abc123",
)

print(agent.id)
''',
    '''
agent = client.agents.create(
    name="Front desk",
    type="inbound",
    instructions="Answer calls for Bright Smiles Dental. Help with hours, directions, and appointment questions.",
    returns={"caller_name": "string", "reason": "string"},
    number_ids=["pn_xyz789"],
)
''',
    '''
client.agents.attach_number(agent.id, number_id="pn_new", set_as_primary=True)
client.agents.detach_number(agent.id, number_id="pn_old")
client.agents.set_primary_number(agent.id, number_id="pn_new")
''',
    '''
client.agents.archive(agent.id)
''',
]

SEED_001 = [
    '''
from callingbox import Callingbox

client = Callingbox()

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
''',
    '''
client.agents.update(
    agent.id,
    instructions="New instructions starting now.",
)
''',
    '''
client.agents.detach_number(agent.id, number_id="pn_old")
client.agents.attach_number(other_agent.id, number_id="pn_old")
''',
    '''
for call in client.calls.iter_calls():
    if call.direction == "inbound" and call.agent_id == agent.id:
        print(call.id, call.to_number, call.result)
''',
]


@pytest.fixture
def sdk_env(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CALLINGBOX_API_KEY", workspace.api_key)
    monkeypatch.setenv("CALLINGBOX_BASE_URL", workspace.base_url)
    return workspace


def _run(snippets: list[str], namespace: dict[str, Any]) -> dict[str, Any]:
    for snippet in snippets:
        exec(compile(textwrap.dedent(snippet), "<seed snippet>", "exec"), namespace)
    return namespace


def _other_inbound_agent(api: Any) -> Any:
    from callingbox.types import Agent

    return Agent.model_validate(api.post("/v1/agents", json={"name": "Other line", "type": "inbound"}).json())


def test_seed_000_runs_unchanged(sdk_env: Any, api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _run(SEED_000, {})
    # The outbound agent was printed, and the inbound one ended archived with pn_new as primary.
    # (the stack shares this process's stdout: its JSON log lines are not the snippet's output)
    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("{")]
    assert printed and printed[0].startswith("agent_")
    outbound = api.get(f"/v1/agents/{printed[0]}").json()
    assert outbound["type"] == "outbound" and outbound["primary_number_id"] == "pn_abc123"
    front = api.get(f"/v1/agents/{namespace['agent'].id}").json()
    assert front["archived"] is True
    assert front["number_ids"] == ["pn_xyz789", "pn_new"] and front["primary_number_id"] == "pn_new"
    # Archived: it answers no number any more.
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] is None


def test_seed_001_runs_unchanged(sdk_env: Any, api: Any) -> None:
    namespace = _run(SEED_001[:2], {})
    agent = namespace["agent"]
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] == agent.id
    assert api.get(f"/v1/agents/{agent.id}").json()["instructions"] == "New instructions starting now."
    namespace["other_agent"] = _other_inbound_agent(api)
    _run(SEED_001[2:], namespace)
    assert api.get("/v1/numbers/pn_old").json()["inbound_agent_id"] == namespace["other_agent"].id


def test_both_seeds_run_in_sequence_in_one_workspace(sdk_env: Any, api: Any) -> None:
    # Seed 000 archives its Front desk agent, which frees pn_xyz789 for seed 001's.
    _run(SEED_000, {})
    namespace = _run(SEED_001[:2], {})
    namespace["other_agent"] = _other_inbound_agent(api)
    _run(SEED_001[2:], namespace)
    assert api.get("/v1/numbers/pn_xyz789").json()["inbound_agent_id"] == namespace["agent"].id
