"""Heartbeats, the live-calls index and the sweeper against the emulated DynamoDB.

The sweep is global (every workspace), and other tests in the session leave live calls behind, so
each test asserts only about its own calls: what the sweep returned for them and how they look after.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from callingbox.core import sweeper
from callingbox.core.clock import now_s
from callingbox.core.errors import NotFound
from callingbox.core.ids import new_id
from callingbox.core.resources import LIVE_INDEX
from callingbox.core.store import calls as call_store
from callingbox.core.store import transcripts
from callingbox.core.store.items import CallItem, ws_key
from tests.support import Workspace, new_workspace

# The sweeps below run "later": far enough ahead of the real clock that a call whose only heartbeat
# was seeded when it was answered (now) is stale, while a heartbeat sent "just before" is fresh.
AHEAD_S = 1000


def _dispatch(client: Any) -> str:
    agent = client.post("/v1/agents", json={"name": "Out", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    response = client.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _item(workspace_id: str, call_id: str) -> CallItem:
    return CallItem.get(ws_key(workspace_id), f"call#{call_id}", consistent_read=True)


def _live_ids() -> set[str]:
    return {item.sk[len("call#"):] for item in CallItem.live_calls.query(LIVE_INDEX.partition)}


def _ended(result: list[sweeper.EndedCall], *workspaces: str) -> dict[str, sweeper.EndedCall]:
    return {ended.call_id: ended for ended in result if ended.workspace_id in workspaces}


@pytest.fixture
def other(local_stack: Any) -> Iterator[tuple[Workspace, Any]]:
    workspace = new_workspace(local_stack.api_url, "other")
    with workspace.http() as client:
        yield workspace, client


def _answered(workspace_id: str, call_id: str) -> None:
    call_store.transition_call(workspace_id, call_id, "ringing", started_at=now_s())
    call_store.transition_call(workspace_id, call_id, "in_progress", answered_at=now_s(), answered_by="human")


# --- the live index follows the status ---------------------------------------------------------------

def test_live_slot_follows_the_status(api: Any, workspace: Any) -> None:
    call = _dispatch(api)
    # queued: not live
    assert _item(workspace.id, call).live is None and call not in _live_ids()
    # ringing: live, no heartbeat yet
    call_store.transition_call(workspace.id, call, "ringing")
    item = _item(workspace.id, call)
    assert item.live == LIVE_INDEX.partition and item.heartbeat_at is None and call in _live_ids()
    # in_progress: live, the answer seeds the heartbeat so a gateway that never connects still goes stale
    before = now_s()
    call_store.transition_call(workspace.id, call, "in_progress")
    item = _item(workspace.id, call)
    assert item.live == LIVE_INDEX.partition and before <= item.heartbeat_at <= now_s()
    # a same-status document update keeps it live and keeps the heartbeat
    call_store.heartbeat(workspace.id, call, before + 30)
    call_store.update_call(workspace.id, call, lambda doc: {**doc, "latency": [{"turn": 1}]})
    item = _item(workspace.id, call)
    assert item.live == LIVE_INDEX.partition and item.heartbeat_at == before + 30
    # terminal: out of the index, the last heartbeat kept for the record
    call_store.transition_call(workspace.id, call, "completed", end_reason="caller_hangup")
    item = _item(workspace.id, call)
    assert item.live is None and item.heartbeat_at == before + 30 and call not in _live_ids()


def test_ending_straight_from_ringing_leaves_the_index(api: Any, workspace: Any) -> None:
    call = _dispatch(api)
    call_store.transition_call(workspace.id, call, "ringing")
    call_store.transition_call(workspace.id, call, "no_answer", end_reason="no_answer")
    assert _item(workspace.id, call).live is None and call not in _live_ids()


def test_a_call_inserted_live_is_indexed(api: Any, workspace: Any) -> None:
    # GIVEN an inbound call stored directly as in_progress (the inbound webhook may do this)
    doc = dict(call_store.get_call(workspace.id, _dispatch(api)).doc, id=new_id("call"), direction="inbound",
               status="in_progress")
    call_store.insert_call(workspace.id, doc)
    item = _item(workspace.id, doc["id"])
    assert item.live == LIVE_INDEX.partition and item.heartbeat_at is not None and doc["id"] in _live_ids()


# --- heartbeats --------------------------------------------------------------------------------------

def test_heartbeat_records_without_touching_the_document(api: Any, workspace: Any) -> None:
    call = _dispatch(api)
    _answered(workspace.id, call)
    before = call_store.get_call(workspace.id, call)
    assert call_store.heartbeat(workspace.id, call, before.heartbeat_at + 5) is True
    after = call_store.get_call(workspace.id, call)
    assert after.heartbeat_at == before.heartbeat_at + 5
    assert (after.raw, after.version, after.status) == (before.raw, before.version, before.status)
    # An older heartbeat (out of order) never moves the time back, and the call is still alive
    assert call_store.heartbeat(workspace.id, call, before.heartbeat_at + 1) is True
    assert call_store.get_call(workspace.id, call).heartbeat_at == before.heartbeat_at + 5


def test_heartbeat_after_the_end_says_stop(api: Any, workspace: Any) -> None:
    call = _dispatch(api)
    _answered(workspace.id, call)
    call_store.transition_call(workspace.id, call, "completed", end_reason="agent_hangup")
    assert call_store.heartbeat(workspace.id, call, now_s() + 5) is False
    # and it does not put the call back in the live index
    assert _item(workspace.id, call).live is None and call not in _live_ids()


def test_heartbeat_of_an_unknown_call(workspace: Any) -> None:
    with pytest.raises(NotFound):
        call_store.heartbeat(workspace.id, "call_never_existed", now_s())
    # the failed conditional write did not create an item
    with pytest.raises(CallItem.DoesNotExist):
        _item(workspace.id, "call_never_existed")


# --- the sweep ---------------------------------------------------------------------------------------

def test_sweep_ends_only_stale_live_calls_in_every_workspace(api: Any, workspace: Any,
                                                             other: tuple[Workspace, Any]) -> None:
    other_ws, other_api = other
    later = now_s() + AHEAD_S
    # GIVEN in two workspaces: stale in_progress calls, fresh ones, and calls in other states
    stale, other_stale = _dispatch(api), _dispatch(other_api)
    fresh, other_fresh = _dispatch(api), _dispatch(other_api)
    ringing, queued, completed = _dispatch(api), _dispatch(api), _dispatch(api)
    for ws, call in ((workspace.id, stale), (other_ws.id, other_stale), (workspace.id, fresh),
                     (other_ws.id, other_fresh), (workspace.id, completed)):
        _answered(ws, call)
    call_store.heartbeat(workspace.id, stale, later - sweeper.STALE_AFTER_S - 30)
    call_store.heartbeat(workspace.id, fresh, later - 5)
    call_store.heartbeat(other_ws.id, other_fresh, later - sweeper.STALE_AFTER_S + 1)
    call_store.transition_call(workspace.id, ringing, "ringing")
    call_store.transition_call(workspace.id, completed, "completed", end_reason="caller_hangup")
    transcripts.append_segment(workspace.id, stale, 0, "agent", "Hi, this is Bright Smiles.", 0, 1500)
    transcripts.append_segment(workspace.id, stale, 1, "caller", "Hello, who is", 1700, 2300)
    untouched = {call: call_store.get_call(ws, call) for ws, call in (
        (workspace.id, fresh), (other_ws.id, other_fresh), (workspace.id, ringing), (workspace.id, queued),
        (workspace.id, completed))}

    # WHEN the sweeper runs
    result = sweeper.sweep(later)

    # THEN exactly the stale in_progress calls of both workspaces are ended
    ended = _ended(result, workspace.id, other_ws.id)
    assert set(ended) == {stale, other_stale}
    assert ended[other_stale].workspace_id == other_ws.id
    for ws, call in ((workspace.id, stale), (other_ws.id, other_stale)):
        record = call_store.get_call(ws, call)
        doc = record.doc
        assert record.status == doc["status"] == "failed" and doc["end_reason"] == "error:gateway_lost"
        assert ended[call].call == doc
        # ended_at is the last sign of life, not the time of the sweep
        assert doc["ended_at"] == int(ended[call].last_heartbeat_at) == int(record.heartbeat_at)
        assert call not in _live_ids()
    assert call_store.get_call(workspace.id, stale).doc["ended_at"] == later - sweeper.STALE_AFTER_S - 30
    # AND nothing else changed
    for call, before in untouched.items():
        ws = other_ws.id if call == other_fresh else workspace.id
        after = call_store.get_call(ws, call)
        assert (after.raw, after.version) == (before.raw, before.version), call
    # AND the transcript written before the gateway was lost is kept and served
    assert [s["text"] for s in api.get(f"/v1/calls/{stale}/transcript").json()["data"]] == [
        "Hi, this is Bright Smiles.", "Hello, who is"]
    assert api.get(f"/v1/calls/{stale}").json()["status"] == "failed"
    # AND a second sweep has nothing more to do for them
    assert _ended(sweeper.sweep(later), workspace.id, other_ws.id) == {}


def test_threshold_is_respected(api: Any, workspace: Any) -> None:
    call = _dispatch(api)
    _answered(workspace.id, call)
    last = now_s() + AHEAD_S
    call_store.heartbeat(workspace.id, call, last)
    # exactly at the threshold: not yet stale
    assert call not in _ended(sweeper.sweep(last + sweeper.STALE_AFTER_S), workspace.id)
    assert call not in _ended(sweeper.sweep(last + 10, stale_after_s=20), workspace.id)
    assert call in _ended(sweeper.sweep(last + 21, stale_after_s=20), workspace.id)


def test_a_heartbeat_landing_during_the_sweep_keeps_the_call(api: Any, workspace: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stale call whose gateway comes back between the index read and the write
    call = _dispatch(api)
    _answered(workspace.id, call)
    later = now_s() + AHEAD_S
    real = call_store.transition_call

    def heartbeat_first(ws: str, call_id: str, *args: Any, **kwargs: Any) -> Any:
        if call_id == call:
            assert call_store.heartbeat(ws, call_id, later - 1)
        return real(ws, call_id, *args, **kwargs)

    monkeypatch.setattr(call_store, "transition_call", heartbeat_first)
    # WHEN the sweep runs THEN the call stays live
    assert call not in _ended(sweeper.sweep(later), workspace.id)
    record = call_store.get_call(workspace.id, call)
    assert record.status == "in_progress" and record.heartbeat_at == later - 1 and call in _live_ids()


def test_a_call_that_ended_meanwhile_is_never_moved(api: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    # GIVEN a stale call that completes normally between the index read and the sweeper's write
    call = _dispatch(api)
    _answered(workspace.id, call)
    real = call_store.transition_call

    def completed_first(ws: str, call_id: str, *args: Any, **kwargs: Any) -> Any:
        if call_id == call:
            assert real(ws, call_id, "completed", end_reason="caller_hangup").changed
        return real(ws, call_id, *args, **kwargs)

    monkeypatch.setattr(call_store, "transition_call", completed_first)
    # WHEN the sweep runs THEN it does not report it and the call keeps its real ending
    assert call not in _ended(sweeper.sweep(now_s() + AHEAD_S), workspace.id)
    doc = call_store.get_call(workspace.id, call).doc
    assert doc["status"] == "completed" and doc["end_reason"] == "caller_hangup"


def test_the_guarded_transition_directly(api: Any, workspace: Any) -> None:
    # transition_call(heartbeat_before=…) applies only while the last heartbeat is older than that time
    call = _dispatch(api)
    _answered(workspace.id, call)
    seen = call_store.get_call(workspace.id, call).heartbeat_at
    kept = call_store.transition_call(workspace.id, call, "failed", heartbeat_before=seen, end_reason="x")
    assert not kept.changed and kept.doc["status"] == "in_progress"
    gone = call_store.transition_call(workspace.id, call, "failed", heartbeat_before=seen + 1, end_reason="x")
    assert gone.changed and gone.doc["status"] == "failed"
