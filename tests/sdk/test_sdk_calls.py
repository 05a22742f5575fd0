"""``client.calls``, pagination across pages and ``iter_calls``."""

from __future__ import annotations

import httpx
import pytest
from sdk_harness import SDK, body_of, call_json, listing, ok

from callingbox import AsyncCursorPage, SyncCursorPage
from callingbox.types import Call, TranscriptSegment

pytestmark = pytest.mark.anyio


def paged_calls(request: httpx.Request) -> httpx.Response:
    """Five calls served two per page, cursors ``c2`` and ``c4``."""
    calls = [call_json(id=f"call_{n}") for n in range(1, 6)]
    start = {None: 0, "c2": 2, "c4": 4}[request.url.params.get("cursor")]
    end = start + 2
    return ok(listing(calls[start:end], next_cursor=f"c{end}" if end < len(calls) else None))


async def test_create(sdk: SDK) -> None:
    sdk.server.reply(ok(call_json()))
    call = await sdk.run(lambda c: c.calls.create(
        agent_id="agent_1", to="+14155550123", context={"patient": "Ana"}, metadata={"order": "42"},
    ))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/calls")
    assert body_of(sdk.server.last) == {
        "agent_id": "agent_1", "to": "+14155550123", "context": {"patient": "Ana"}, "metadata": {"order": "42"},
    }
    assert isinstance(call, Call) and call.status == "queued"


async def test_retrieve_cancel_hangup(sdk: SDK) -> None:
    sdk.server.reply(ok(call_json()), ok(call_json(status="canceled")), ok(call_json(status="completed")))
    await sdk.run(lambda c: c.calls.retrieve("call_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("GET", "/v1/calls/call_1")
    canceled = await sdk.run(lambda c: c.calls.cancel("call_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/calls/call_1/cancel")
    assert canceled.status == "canceled"
    await sdk.run(lambda c: c.calls.hangup("call_1"))
    assert (sdk.server.last.method, sdk.server.last.url.path) == ("POST", "/v1/calls/call_1/hangup")


async def test_list_returns_one_page_with_its_cursor(sdk: SDK) -> None:
    sdk.server.default = paged_calls
    page = await sdk.run(lambda c: c.calls.list(limit=2, status="completed"))
    assert isinstance(page, (SyncCursorPage, AsyncCursorPage))
    assert [call.id for call in page.data] == ["call_1", "call_2"]
    assert (page.has_more, page.next_cursor) == (True, "c2")
    assert dict(sdk.server.last.url.params) == {"limit": "2", "status": "completed"}
    assert len(sdk.server.requests) == 1


async def test_iterating_a_page_walks_every_page_with_the_same_filters(sdk: SDK) -> None:
    sdk.server.default = paged_calls
    page = await sdk.run(lambda c: c.calls.list(limit=2, agent_id="agent_1"))
    calls = await sdk.collect(page)
    assert [call.id for call in calls] == [f"call_{n}" for n in range(1, 6)]
    params = [dict(request.url.params) for request in sdk.server.requests]
    assert params == [
        {"limit": "2", "agent_id": "agent_1"},
        {"limit": "2", "agent_id": "agent_1", "cursor": "c2"},
        {"limit": "2", "agent_id": "agent_1", "cursor": "c4"},
    ]


async def test_next_page_by_hand(sdk: SDK) -> None:
    sdk.server.default = paged_calls
    page = await sdk.run(lambda c: c.calls.list(cursor="c2"))
    assert [call.id for call in page.data] == ["call_3", "call_4"]
    last = await sdk.run(lambda _: page.get_next_page())
    assert [call.id for call in last.data] == ["call_5"]
    assert not last.has_next_page()
    with pytest.raises(RuntimeError, match="No next page"):
        await sdk.run(lambda _: last.get_next_page())
    pages = await sdk.collect(page.iter_pages())
    assert [len(p.data) for p in pages] == [2, 1]


async def test_iter_calls_yields_every_call_of_every_page(sdk: SDK) -> None:
    sdk.server.default = paged_calls
    calls = await sdk.collect(sdk.client.calls.iter_calls(direction="inbound"))
    assert [call.id for call in calls] == [f"call_{n}" for n in range(1, 6)]
    assert all(request.url.params["direction"] == "inbound" for request in sdk.server.requests)


async def test_empty_list(sdk: SDK) -> None:
    sdk.server.reply(ok(listing([])))
    assert await sdk.collect(sdk.client.calls.iter_calls()) == []


async def test_has_more_without_cursor_stops(sdk: SDK) -> None:
    sdk.server.reply(ok({"object": "list", "data": [call_json()], "has_more": True, "next_cursor": None}))
    assert len(await sdk.collect(await sdk.run(lambda c: c.calls.list()))) == 1


async def test_transcript(sdk: SDK) -> None:
    segment = {"party": "agent", "text": "Hi!", "start_ms": 0, "end_ms": 900}
    sdk.server.reply(
        ok(listing([segment], next_cursor="s1")),
        ok(listing([{**segment, "party": "caller", "text": "Hello", "interrupted": True}])),
    )
    segments = await sdk.run(lambda c: c.calls.transcript("call_1"))
    assert sdk.server.requests[0].url.path == "/v1/calls/call_1/transcript"
    assert sdk.server.last.url.params["cursor"] == "s1"
    assert all(isinstance(s, TranscriptSegment) for s in segments)
    assert [(s.party, s.interrupted) for s in segments] == [("agent", False), ("caller", True)]
