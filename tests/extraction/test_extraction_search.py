"""GET /v1/transcripts/search over real HTTP on the emulated DynamoDB: every word must occur,
filters, newest first, cursor pagination, the bad-input 400s."""

from __future__ import annotations

from typing import Any

import pytest

from callingbox.core import ids, transcript_search
from callingbox.core.extraction.types import ExtractionJob
from callingbox.core.extraction.worker import ExtractionWorker
from callingbox.core.settings import Settings
from tests.extraction.helpers import Emitted, create_agent, ended_call, store_transcript
from tests.support import new_workspace

pytestmark = pytest.mark.integration
BASE_MS = 1_790_000_000_000


def _index(local_stack: Any, workspace: Any, call_id: str) -> None:
    """The post-call job (the point where a call becomes searchable)."""
    worker = ExtractionWorker(Settings.from_env(local_stack.environment), on_processed=Emitted())
    worker.process(ExtractionJob(workspace.id, call_id))


def _synthetic(workspace: Any, lines: list[str], *, at_ms: int, agent_id: str = "agent_x",
               number_id: str = "pn_x") -> str:
    """A call id created at ``at_ms`` with ``lines`` as its transcript, indexed (for time-range tests)."""
    call_id = ids.new_id("call", now_ms=at_ms)
    store_transcript(workspace.id, call_id, [("caller" if i % 2 else "agent", text) for i, text in enumerate(lines)])
    doc = {"id": call_id, "agent_id": agent_id, "number_id": number_id, "created": at_ms // 1000}
    transcript_search.index_call(workspace.id, doc, [{"text": text} for text in lines])
    return call_id


def _search(api: Any, **params: Any) -> Any:
    return api.get("/v1/transcripts/search", params=params)


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["call_id"] for item in response.json()["data"]]


def test_every_word_must_occur_and_matching_segments_come_back(api: Any, workspace: Any, local_stack: Any) -> None:
    # GIVEN three processed calls
    parcel_friday = ended_call(api, workspace, segments=[("agent", "When should the parcel arrive?"),
                                                         ("caller", "Friday, please.")])
    parcel_monday = ended_call(api, workspace, segments=[("agent", "Your parcel comes Monday."), ("caller", "ok")])
    friday_only = ended_call(api, workspace, segments=[("caller", "FRIDAY is fine by me")])
    for call_id in (parcel_friday, parcel_monday, friday_only):
        _index(local_stack, workspace, call_id)
    # WHEN searching for two words THEN only the call with both, with the segments holding either
    found = _search(api, q="parcel friday").json()
    assert [item["call_id"] for item in found["data"]] == [parcel_friday]
    item = found["data"][0]
    assert item["object"] == "transcript_search_result" and item["created"] > 0
    assert [s["text"] for s in item["matches"]] == ["When should the parcel arrive?", "Friday, please."]
    assert found["has_more"] is False and found["next_cursor"] is None
    # AND one word finds each call holding it, newest first, whatever the case
    assert _ids(_search(api, q="Friday")) == [friday_only, parcel_friday]
    assert _ids(_search(api, q="parcel friday monday")) == []
    assert _ids(_search(api, q="parcel nowhere")) == []


def test_normalization_folds_case_accents_and_punctuation(api: Any, workspace: Any) -> None:
    call_id = _synthetic(workspace, ["Meet me at the Café, don't be late!", "The follow-up is on 3/4."], at_ms=BASE_MS)
    for query in ("cafe", "CAFÉ dont", "café, don't!", "follow up", "late meet"):
        assert _ids(_search(api, q=query)) == [call_id], query
    for query in ("caf", "followup", "do"):  # exact words only: no prefixes, no joining
        assert _ids(_search(api, q=query)) == [], query


def test_filters_by_agent_number_and_creation_time(api: Any, workspace: Any) -> None:
    old = _synthetic(workspace, ["refund please"], at_ms=BASE_MS, agent_id="agent_a", number_id="pn_1")
    mid = _synthetic(workspace, ["a refund"], at_ms=BASE_MS + 10_000, agent_id="agent_b", number_id="pn_1")
    new = _synthetic(workspace, ["refund now"], at_ms=BASE_MS + 20_000, agent_id="agent_a", number_id="pn_2")
    assert _ids(_search(api, q="refund")) == [new, mid, old]
    assert _ids(_search(api, q="refund", agent_id="agent_a")) == [new, old]
    assert _ids(_search(api, q="refund", number_id="pn_1")) == [mid, old]
    assert _ids(_search(api, q="refund", agent_id="agent_a", number_id="pn_1")) == [old]
    start = BASE_MS // 1000
    assert _ids(_search(api, q="refund", created_after=start + 10)) == [new, mid]
    assert _ids(_search(api, q="refund", created_before=start + 10)) == [mid, old]
    assert _ids(_search(api, q="refund", created_after=start + 5, created_before=start + 15)) == [mid]
    assert _ids(_search(api, q="refund", created_after=start + 30)) == []


def test_number_id_is_the_number_the_real_call_used(api: Any, workspace: Any, local_stack: Any) -> None:
    agent = create_agent(api, number_ids=["pn_abc123", "pn_xyz789"], primary_number_id="pn_xyz789")
    call_id = ended_call(api, workspace, agent=agent, segments=[("caller", "invoice question")])
    _index(local_stack, workspace, call_id)
    assert _ids(_search(api, q="invoice", number_id="pn_xyz789")) == [call_id]
    assert _ids(_search(api, q="invoice", number_id="pn_abc123")) == []
    assert _ids(_search(api, q="invoice", agent_id=agent["id"])) == [call_id]


def test_pages_follow_the_cursor_newest_first_without_gaps(api: Any, workspace: Any) -> None:
    made = [_synthetic(workspace, [f"hello number {i}"], at_ms=BASE_MS + i * 1000) for i in range(25)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": "hello", "limit": 10, **({"cursor": cursor} if cursor else {})}
        page = _search(api, **params).json()
        seen += [item["call_id"] for item in page["data"]]
        pages += 1
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert pages == 3 and seen == list(reversed(made))


def test_intersection_beyond_the_probe_pages(api: Any, workspace: Any) -> None:
    # GIVEN 120 calls saying "alpha", every 2nd also "beta", every 10th also "gamma"
    made = []
    for i in range(120):
        words = ["alpha"] + (["beta"] if i % 2 == 0 else []) + (["gamma"] if i % 10 == 0 else [])
        made.append(_synthetic(workspace, [" ".join(words)], at_ms=BASE_MS + i * 1000))
    newest_first = list(reversed(made))
    # WHEN two common words are searched THEN every call with both, in order
    both = _ids(_search(api, q="alpha beta", limit=100))
    assert both == [c for c in newest_first if made.index(c) % 2 == 0][:60]
    assert _ids(_search(api, q="beta gamma alpha", limit=100)) == [c for c in newest_first if made.index(c) % 10 == 0]


def test_a_page_may_be_short_when_the_work_budget_runs_out(api: Any, workspace: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN two common words that occur together in only two calls
    def words(i: int) -> str:
        return "left right" if i in (3, 40) else ("left" if i % 2 else "right")

    made = [_synthetic(workspace, [words(i)], at_ms=BASE_MS + i * 1000) for i in range(60)]
    # AND a small work budget per page
    monkeypatch.setattr(transcript_search, "MAX_EXAMINED_PER_PAGE", 10)
    monkeypatch.setattr(transcript_search, "VERIFY_BATCH", 5)
    monkeypatch.setattr(transcript_search, "PROBE_SIZE", 4)
    found: list[str] = []
    cursor, pages, short = None, 0, 0
    while pages < 50:
        page = _search(api, q="left right", limit=2, **({"cursor": cursor} if cursor else {})).json()
        found += [item["call_id"] for item in page["data"]]
        pages += 1
        if not page["has_more"]:
            break
        short += len(page["data"]) < 2
        cursor = page["next_cursor"]
    # THEN pages come back short (even empty) with has_more, and following them finds both, once
    assert found == [made[40], made[3]]
    assert pages >= 3 and short >= 2


@pytest.mark.parametrize(("params", "param"), [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": " ?! -- "}, "q"),
    ({"q": "one two three four five six seven eight nine ten eleven"}, "q"),
    ({"q": "x" * 65}, "q"),
    ({"q": "hello", "limit": "0"}, "limit"),
    ({"q": "hello", "limit": "many"}, "limit"),
    ({"q": "hello", "cursor": "not-a-cursor!"}, "cursor"),
    ({"q": "hello", "created_after": "yesterday"}, "created_after"),
    ({"q": "hello", "created_before": "-5"}, "created_before"),
    ({"q": "hello", "sort": "asc"}, "sort"),
])
def test_bad_queries_are_400_naming_the_param(api: Any, params: dict[str, str], param: str) -> None:
    response = _search(api, **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_ten_words_are_allowed_and_repeats_count_once(api: Any, workspace: Any) -> None:
    call_id = _synthetic(workspace, ["one two three four five six seven eight nine ten"], at_ms=BASE_MS)
    assert _ids(_search(api, q="one two three four five six seven eight nine ten")) == [call_id]
    assert _ids(_search(api, q="one one one two two three four five six seven eight nine ten")) == [call_id]


def test_other_workspaces_calls_are_never_found(api: Any, workspace: Any, local_stack: Any) -> None:
    _synthetic(workspace, ["confidential merger"], at_ms=BASE_MS)
    other = new_workspace(local_stack.api_url)
    with other.http() as client:
        assert _ids(client.get("/v1/transcripts/search", params={"q": "confidential merger"})) == []
