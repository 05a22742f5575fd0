"""``client.transcripts``: search across every call's transcript (``/v1/transcripts/search``)."""

from __future__ import annotations

from typing import Unpack

from .._types import NOT_GIVEN, NotGiven, RequestOptions, pick_given
from ..pagination import AsyncCursorPage, SyncCursorPage
from ..types import TranscriptSearchResult
from . import AsyncAPIResource, SyncAPIResource

__all__ = ["Transcripts", "AsyncTranscripts"]

_SEARCH_PARAMS = ("q", "number_id", "agent_id", "created_after", "created_before", "limit", "cursor")


def _check_query(q: str) -> None:
    if not isinstance(q, str) or not q.strip():
        raise ValueError("q must be a non-empty string of up to 10 words")


class Transcripts(SyncAPIResource):
    """Search call transcripts."""

    def search(
        self,
        *,
        q: str,
        number_id: str | NotGiven = NOT_GIVEN,
        agent_id: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[TranscriptSearchResult]:
        """Calls whose transcript contains every word of ``q``, newest first, each with the
        segments that matched (``GET /v1/transcripts/search``).

        Words match exactly after normalization (case and accents ignored; no stemming or
        prefixes); at most 10 words. A call is searchable once its post-call processing ran.
        Iterating the returned page walks every page; a page may hold fewer than ``limit``
        results while ``has_more`` is true.

        Args:
            q: The words to find (all of them, in any order).
            number_id: Only calls that used this number.
            agent_id: Only calls of this agent.
            created_after: Unix seconds, inclusive.
            created_before: Unix seconds, inclusive.
            limit: Page size, 1 to 100 (default 20).
            cursor: ``next_cursor`` of the previous page.
        """
        _check_query(q)
        query = pick_given(locals(), _SEARCH_PARAMS)
        return self._get_page("/v1/transcripts/search", TranscriptSearchResult, query=query, options=options)


class AsyncTranscripts(AsyncAPIResource):
    """Async twin of :class:`Transcripts`."""

    async def search(
        self,
        *,
        q: str,
        number_id: str | NotGiven = NOT_GIVEN,
        agent_id: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[TranscriptSearchResult]:
        """Search call transcripts; ``async for`` over the page walks every page. See :meth:`Transcripts.search`."""
        _check_query(q)
        query = pick_given(locals(), _SEARCH_PARAMS)
        return await self._get_page("/v1/transcripts/search", TranscriptSearchResult, query=query, options=options)
