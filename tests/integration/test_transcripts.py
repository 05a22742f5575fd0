"""Transcript segments against the emulated DynamoDB, and GET /v1/calls/{id}/transcript over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from callingbox.core.errors import NotFound
from callingbox.core.store import calls as call_store
from callingbox.core.store import transcripts
from callingbox.types.call import TranscriptSegment
from tests.support import new_workspace


def _dispatch(api: Any) -> str:
    agent = api.post("/v1/agents", json={"name": "Out", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


@pytest.fixture
def call_id(api: Any, workspace: Any) -> str:
    call = _dispatch(api)
    call_store.transition_call(workspace.id, call, "in_progress", answered_at=100)
    return call


def test_segments_come_back_in_seq_order(workspace: Any, call_id: str) -> None:
    # GIVEN segments appended out of order, past 9 and 99 (the SK must sort numerically)
    for seq in (2, 0, 100, 10, 1):
        party = "agent" if seq % 2 == 0 else "caller"
        start = seq * 1000
        assert transcripts.append_segment(workspace.id, call_id, seq, party, f"text {seq}", start, start + 900)
    # WHEN listed THEN ordered by seq, in the public shape
    segments = transcripts.list_segments(workspace.id, call_id)
    assert [s["text"] for s in segments] == ["text 0", "text 1", "text 2", "text 10", "text 100"]
    assert segments[0] == {"party": "agent", "text": "text 0", "start_ms": 0, "end_ms": 900, "interrupted": False}
    for segment in segments:
        TranscriptSegment.model_validate(segment)


def test_append_is_idempotent_and_first_write_wins(workspace: Any, call_id: str) -> None:
    # GIVEN a segment WHEN the same seq is appended again (a retried write)
    assert transcripts.append_segment(workspace.id, call_id, 0, "caller", "hello", 0, 800) is True
    assert transcripts.append_segment(workspace.id, call_id, 0, "caller", "hello", 0, 800) is False
    # THEN there is one segment
    assert len(transcripts.list_segments(workspace.id, call_id)) == 1
    # AND a late retry after a truncation does not undo it
    transcripts.append_segment(workspace.id, call_id, 1, "agent", "Your appointment is on Monday at nine.", 900, 4000)
    transcripts.update_segment(workspace.id, call_id, 1, text="Your appointment is", end_ms=1800, interrupted=True)
    assert not transcripts.append_segment(workspace.id, call_id, 1, "agent", "Your appointment is on Monday at nine.",
                                          900, 4000)
    assert transcripts.list_segments(workspace.id, call_id)[1]["text"] == "Your appointment is"


def test_segments_of_one_call_only(workspace: Any, api: Any, call_id: str) -> None:
    other = _dispatch(api)
    transcripts.append_segment(workspace.id, call_id, 0, "agent", "mine", 0, 10)
    transcripts.append_segment(workspace.id, other, 0, "agent", "other call", 0, 10)
    assert [s["text"] for s in transcripts.list_segments(workspace.id, call_id)] == ["mine"]
    assert transcripts.list_segments(workspace.id, "call_none") == []


def test_truncation_on_barge_in(workspace: Any, call_id: str) -> None:
    # GIVEN an agent segment being spoken
    transcripts.append_segment(workspace.id, call_id, 3, "agent", "I can offer Tuesday or Wednesday.", 5000, 8000)
    # WHEN the caller barges in after the first words
    updated = transcripts.update_segment(workspace.id, call_id, 3, text="I can offer", end_ms=5900, interrupted=True)
    # THEN the stored segment is what was heard, marked interrupted
    expected = {"party": "agent", "text": "I can offer", "start_ms": 5000, "end_ms": 5900, "interrupted": True}
    assert updated == expected
    assert transcripts.list_segments(workspace.id, call_id) == [expected]
    # AND fields left out keep their value
    assert transcripts.update_segment(workspace.id, call_id, 3, interrupted=True) == expected


def test_update_refuses_what_cannot_be(workspace: Any, call_id: str) -> None:
    with pytest.raises(NotFound):
        transcripts.update_segment(workspace.id, call_id, 7, text="never appended", interrupted=True)
    transcripts.append_segment(workspace.id, call_id, 0, "agent", "hi", 1000, 2000)
    with pytest.raises(ValueError):
        transcripts.update_segment(workspace.id, call_id, 0, end_ms=500)  # before the start
    assert transcripts.list_segments(workspace.id, call_id)[0]["end_ms"] == 2000
    # An update never creates a segment
    assert len(transcripts.list_segments(workspace.id, call_id)) == 1


@pytest.mark.parametrize("args", [
    dict(seq=-1), dict(seq=1_000_000), dict(seq=True), dict(party="robot"), dict(start_ms=-5),
    dict(start_ms=10, end_ms=5), dict(end_ms=1.5),
])
def test_append_refuses_bad_input(workspace: Any, call_id: str, args: dict) -> None:
    values = dict(seq=0, party="agent", text="x", start_ms=0, end_ms=10) | args
    with pytest.raises(ValueError):
        transcripts.append_segment(workspace.id, call_id, **values)
    assert transcripts.list_segments(workspace.id, call_id) == []


def test_transcript_endpoint(api: Any, workspace: Any, call_id: str) -> None:
    # GIVEN a call with a few segments, one interrupted
    transcripts.append_segment(workspace.id, call_id, 0, "agent", "Hi, this is Bright Smiles.", 0, 1500)
    transcripts.append_segment(workspace.id, call_id, 1, "caller", "Hello?", 1700, 2200)
    transcripts.append_segment(workspace.id, call_id, 2, "agent", "Can you confirm", 2500, 3300, interrupted=True)
    # WHEN read over HTTP
    response = api.get(f"/v1/calls/{call_id}/transcript")
    # THEN a list object with the segments in order
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and body["has_more"] is False and body["next_cursor"] is None
    assert body["data"] == [
        {"party": "agent", "text": "Hi, this is Bright Smiles.", "start_ms": 0, "end_ms": 1500, "interrupted": False},
        {"party": "caller", "text": "Hello?", "start_ms": 1700, "end_ms": 2200, "interrupted": False},
        {"party": "agent", "text": "Can you confirm", "start_ms": 2500, "end_ms": 3300, "interrupted": True},
    ]


def test_transcript_of_a_call_without_segments_is_empty(api: Any, call_id: str) -> None:
    assert api.get(f"/v1/calls/{call_id}/transcript").json()["data"] == []


def test_transcript_of_another_workspace_is_not_found(api: Any, workspace: Any, local_stack: Any, call_id: str
                                                      ) -> None:
    # GIVEN a call of this workspace with a transcript
    transcripts.append_segment(workspace.id, call_id, 0, "caller", "my private words", 0, 500)
    other = new_workspace(local_stack.api_url, "other")
    with other.http() as stranger:
        # WHEN another workspace asks for it THEN 404, exactly as for an unknown call, and nothing leaks
        response = stranger.get(f"/v1/calls/{call_id}/transcript")
        assert response.status_code == 404 and response.json()["error"]["code"] == "resource_missing"
        assert "private" not in response.text
        # AND even segments written under the other workspace's partition stay apart
        transcripts.append_segment(other.id, call_id, 0, "caller", "not yours", 0, 500)
    assert [s["text"] for s in api.get(f"/v1/calls/{call_id}/transcript").json()["data"]] == ["my private words"]
    assert api.get("/v1/calls/call_missing/transcript").status_code == 404
