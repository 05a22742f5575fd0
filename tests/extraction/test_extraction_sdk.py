"""The SDK's ``client.calls.extract`` and ``client.transcripts.search``, sync and async, against the
local stack's real API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callingbox import AsyncCallingbox, AsyncCursorPage, Callingbox, ConflictError, SyncCursorPage
from callingbox.core import ids, transcript_search
from callingbox.types import Call, TranscriptSearchResult
from tests.extraction.helpers import ended_call, store_transcript

pytestmark = pytest.mark.integration


def _indexed(workspace: Any, text: str, at_ms: int) -> str:
    call_id = ids.new_id("call", now_ms=at_ms)
    store_transcript(workspace.id, call_id, [("caller", text)])
    transcript_search.index_call(workspace.id, {"id": call_id, "agent_id": "agent_s", "created": at_ms // 1000},
                                 [{"text": text}])
    return call_id


def test_search_sync_and_async_walk_every_page(workspace: Any, local_stack: Any) -> None:
    made = [_indexed(workspace, f"delivery window {i}", 1_790_000_000_000 + i * 1000) for i in range(5)]
    made.append(_indexed(workspace, "no match here", 1_790_000_100_000))
    expected = list(reversed(made[:5]))
    with Callingbox(api_key=workspace.api_key, base_url=local_stack.api_url) as client:
        page = client.transcripts.search(q="Delivery window", limit=2)
        assert isinstance(page, SyncCursorPage) and page.has_more and len(page.data) == 2
        assert isinstance(page.data[0], TranscriptSearchResult)
        assert page.data[0].matches[0].text == "delivery window 4"
        assert [hit.call_id for hit in page] == expected
        with pytest.raises(ValueError):
            client.transcripts.search(q="  ")

    async def run() -> list[str]:
        async with AsyncCallingbox(api_key=workspace.api_key, base_url=local_stack.api_url) as client:
            page = await client.transcripts.search(q="delivery", agent_id="agent_s", limit=3)
            assert isinstance(page, AsyncCursorPage)
            return [hit.call_id async for hit in page]

    assert asyncio.run(run()) == expected


def test_extract_sync_and_async(api: Any, workspace: Any, local_stack: Any) -> None:
    call_id = ended_call(api, workspace, returns={"confirmed": "boolean"}, segments=[("caller", "yes")])
    voicemail = ended_call(api, workspace, returns={"confirmed": "boolean"}, outcome="voicemail")
    with Callingbox(api_key=workspace.api_key, base_url=local_stack.api_url, max_retries=0) as client:
        call = client.calls.extract(call_id)
        assert isinstance(call, Call) and call.result is None and call.extraction is not None
        assert call.extraction.status == "pending" and call.result_history == []
        with pytest.raises(ConflictError) as refused:
            client.calls.extract(voicemail)
        assert refused.value.code == "call_not_extractable"

    async def run() -> Call:
        async with AsyncCallingbox(api_key=workspace.api_key, base_url=local_stack.api_url) as client:
            return await client.calls.extract(call_id)

    again = asyncio.run(run())
    assert again.extraction is not None and again.extraction.job_id != call.extraction.job_id
