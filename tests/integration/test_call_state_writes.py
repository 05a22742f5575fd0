"""Status writes against the emulated DynamoDB: forward only, duplicates and late updates are no-ops."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from callingbox.core.call_states import CallStatus
from callingbox.core.store import calls as call_store


@pytest.fixture
def queued_call(api: Any, workspace: Any) -> str:
    agent = api.post("/v1/agents", json={"name": "Out", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    return api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"}).json()["id"]


def test_forward_moves_apply_and_set_fields(workspace: Any, queued_call: str) -> None:
    ringing = call_store.transition_call(workspace.id, queued_call, CallStatus.RINGING, started_at=100)
    assert ringing.changed and ringing.doc["status"] == "ringing" and ringing.doc["started_at"] == 100
    answered = call_store.transition_call(workspace.id, queued_call, "in_progress", answered_at=105, answered_by="human")
    assert answered.changed and answered.doc["answered_by"] == "human"
    done = call_store.transition_call(workspace.id, queued_call, "completed", end_reason="caller_hangup", ended_at=160)
    assert done.changed and done.doc["end_reason"] == "caller_hangup"


def test_duplicated_and_late_updates_change_nothing(workspace: Any, queued_call: str, api: Any) -> None:
    call_store.transition_call(workspace.id, queued_call, "ringing")
    call_store.transition_call(workspace.id, queued_call, "in_progress", answered_at=105)
    before = call_store.get_call(workspace.id, queued_call)
    # A duplicated "in_progress" and a late "ringing" arrive.
    assert not call_store.transition_call(workspace.id, queued_call, "in_progress", answered_at=999).changed
    assert not call_store.transition_call(workspace.id, queued_call, "ringing").changed
    assert not call_store.transition_call(workspace.id, queued_call, "queued").changed
    after = call_store.get_call(workspace.id, queued_call)
    assert (after.raw, after.version) == (before.raw, before.version)
    assert api.get(f"/v1/calls/{queued_call}").json()["answered_at"] == 105


def test_terminal_calls_stay_terminal(workspace: Any, queued_call: str) -> None:
    call_store.transition_call(workspace.id, queued_call, "busy", end_reason="busy")
    for later in ("ringing", "in_progress", "completed", "failed", "canceled"):
        assert not call_store.transition_call(workspace.id, queued_call, later).changed
    assert call_store.get_call(workspace.id, queued_call).status == "busy"


def test_status_index_follows_the_status(workspace: Any, queued_call: str, api: Any) -> None:
    call_store.transition_call(workspace.id, queued_call, "ringing")
    assert [c["id"] for c in api.get("/v1/calls?status=ringing").json()["data"]] == [queued_call]
    assert api.get("/v1/calls?status=queued").json()["data"] == []


def test_racing_writers_leave_one_consistent_outcome(workspace: Any, queued_call: str) -> None:
    # GIVEN a ringing call WHEN answered, failed and no_answer arrive at once
    call_store.transition_call(workspace.id, queued_call, "ringing")
    targets = ["in_progress", "failed", "no_answer", "busy"] * 3
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        outcomes = list(pool.map(lambda target: call_store.transition_call(workspace.id, queued_call, target), targets))
    final = call_store.get_call(workspace.id, queued_call)
    applied = sorted(outcome.doc["status"] for outcome in outcomes if outcome.changed)
    # THEN either one terminal write won, or "answered" won and then one legal ending followed
    assert final.version == 2 + len(applied)  # created (1) + ringing (2) + each applied write
    if len(applied) == 1:
        assert applied == [final.status] and final.status in {"failed", "no_answer", "busy"}
    else:
        assert len(applied) == 2 and "in_progress" in applied
        ending = next(status for status in applied if status != "in_progress")
        assert ending in {"failed", "no_answer"} and final.status == ending
