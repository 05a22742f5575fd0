"""``client.calls``: dispatch outbound calls and read every call's record (``/v1/calls``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Unpack

from .._base_client import construct, path_id
from .._types import NOT_GIVEN, NotGiven, RequestOptions, pick_given
from ..pagination import AsyncCursorPage, SyncCursorPage
from ..types import Call, ListObject, TranscriptSegment
from ..types.call import CallStatus, Direction
from . import AsyncAPIResource, SyncAPIResource

__all__ = ["Calls", "AsyncCalls", "Transcript"]

Transcript = list[TranscriptSegment]
"""A call's transcript: its segments in speaking order."""

_CREATE_FIELDS = ("agent_id", "to", "instructions", "from_number", "context", "webhook_url", "metadata")
_LIST_FILTERS = (
    "agent_id", "direction", "status", "to_number", "from_number", "created_after", "created_before",
    "limit", "cursor",
)


def _call_path(call_id: str, action: str = "") -> str:
    return f"/v1/calls/{path_id('call_id', call_id)}{action}"


def _segments(data: Any) -> tuple[list[TranscriptSegment], str | None]:
    """The segments of one transcript page and the cursor of the next page, if any."""
    page = construct(ListObject[TranscriptSegment], data)
    return page.data, page.next_cursor if page.has_more else None


class Calls(SyncAPIResource):
    """Dispatch outbound calls, read call records and transcripts, end calls."""

    def create(
        self,
        *,
        agent_id: str,
        to: str,
        instructions: str | None | NotGiven = NOT_GIVEN,
        from_number: str | None | NotGiven = NOT_GIVEN,
        context: Mapping[str, Any] | None | NotGiven = NOT_GIVEN,
        webhook_url: str | None | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Call:
        """Dispatch an outbound call (``POST /v1/calls``); it starts ``queued``.

        Args:
            agent_id: An outbound agent; everything not overridden here is locked to it.
            to: The destination in E.164 (``+14155550123``).
            instructions: Replaces (does not merge with) the agent's instructions for this call.
            from_number: Caller id; must be attached to the agent (default: its primary number).
            context: JSON the agent can reference; fills ``{{variables}}`` in its prompts.
            webhook_url: Overrides the agent's webhook for this call.
            metadata: Up to 20 string pairs to read back off the call.
        """
        body = pick_given(locals(), _CREATE_FIELDS)
        return self._request("POST", "/v1/calls", Call, body=body, options=options)

    def retrieve(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Get one call (``GET /v1/calls/{id}``); poll it and read ``result``."""
        return self._request("GET", _call_path(call_id), Call, options=options)

    def list(
        self,
        *,
        agent_id: str | NotGiven = NOT_GIVEN,
        direction: Direction | NotGiven = NOT_GIVEN,
        status: CallStatus | NotGiven = NOT_GIVEN,
        to_number: str | NotGiven = NOT_GIVEN,
        from_number: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[Call]:
        """List calls, inbound and outbound, newest first (``GET /v1/calls``).

        ``created_after`` and ``created_before`` are unix seconds. Iterating the returned page walks
        every page; ``.data`` holds just this one.
        """
        query = pick_given(locals(), _LIST_FILTERS)
        return self._get_page("/v1/calls", Call, query=query, options=options)

    def iter_calls(
        self,
        *,
        agent_id: str | NotGiven = NOT_GIVEN,
        direction: Direction | NotGiven = NOT_GIVEN,
        status: CallStatus | NotGiven = NOT_GIVEN,
        to_number: str | NotGiven = NOT_GIVEN,
        from_number: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Iterator[Call]:
        """Yield every call matching the filters, across all pages (``limit`` is the page size)."""
        filters = pick_given(locals(), _LIST_FILTERS)
        yield from self.list(**filters, **options)

    def cancel(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Cancel a call that is still ``queued`` or ``ringing`` (``POST /v1/calls/{id}/cancel``)."""
        return self._request("POST", _call_path(call_id, "/cancel"), Call, options=options)

    def hangup(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Hang up a call ``in_progress`` (``POST /v1/calls/{id}/hangup``)."""
        return self._request("POST", _call_path(call_id, "/hangup"), Call, options=options)

    def extract(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Run the extraction of a completed call's ``result`` again (``POST /v1/calls/{id}/extract``).

        Use it after changing the agent's ``returns`` (or ``llm_model``): the transcript is read
        again against the agent's current ones. The returned call has ``result: None`` and
        ``extraction.status == "pending"``; the previous result is kept in ``result_history``.
        Poll :meth:`retrieve` (or wait for ``call.completed``) for the new one.

        Raises:
            ConflictError: the call did not complete, or a machine answered it (``call_not_extractable``).
        """
        return self._request("POST", _call_path(call_id, "/extract"), Call, options=options)

    def transcript(self, call_id: str, **options: Unpack[RequestOptions]) -> Transcript:
        """Every transcript segment of a call, in order (``GET /v1/calls/{id}/transcript``)."""
        path = _call_path(call_id, "/transcript")
        segments, cursor = _segments(self._client.request("GET", path, options=options))
        while cursor:
            more, cursor = _segments(self._client.request("GET", path, query={"cursor": cursor}, options=options))
            segments.extend(more)
        return segments


class AsyncCalls(AsyncAPIResource):
    """Async twin of :class:`Calls`."""

    async def create(
        self,
        *,
        agent_id: str,
        to: str,
        instructions: str | None | NotGiven = NOT_GIVEN,
        from_number: str | None | NotGiven = NOT_GIVEN,
        context: Mapping[str, Any] | None | NotGiven = NOT_GIVEN,
        webhook_url: str | None | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Call:
        """Dispatch an outbound call; see :meth:`Calls.create`."""
        body = pick_given(locals(), _CREATE_FIELDS)
        return await self._request("POST", "/v1/calls", Call, body=body, options=options)

    async def retrieve(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Get one call; see :meth:`Calls.retrieve`."""
        return await self._request("GET", _call_path(call_id), Call, options=options)

    async def list(
        self,
        *,
        agent_id: str | NotGiven = NOT_GIVEN,
        direction: Direction | NotGiven = NOT_GIVEN,
        status: CallStatus | NotGiven = NOT_GIVEN,
        to_number: str | NotGiven = NOT_GIVEN,
        from_number: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[Call]:
        """List calls; ``async for`` over the page walks every page. See :meth:`Calls.list`."""
        query = pick_given(locals(), _LIST_FILTERS)
        return await self._get_page("/v1/calls", Call, query=query, options=options)

    async def iter_calls(
        self,
        *,
        agent_id: str | NotGiven = NOT_GIVEN,
        direction: Direction | NotGiven = NOT_GIVEN,
        status: CallStatus | NotGiven = NOT_GIVEN,
        to_number: str | NotGiven = NOT_GIVEN,
        from_number: str | NotGiven = NOT_GIVEN,
        created_after: int | NotGiven = NOT_GIVEN,
        created_before: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Call]:
        """Yield every matching call across all pages: ``async for call in client.calls.iter_calls()``."""
        filters = pick_given(locals(), _LIST_FILTERS)
        async for call in await self.list(**filters, **options):
            yield call

    async def cancel(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Cancel a queued or ringing call; see :meth:`Calls.cancel`."""
        return await self._request("POST", _call_path(call_id, "/cancel"), Call, options=options)

    async def hangup(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Hang up a call in progress; see :meth:`Calls.hangup`."""
        return await self._request("POST", _call_path(call_id, "/hangup"), Call, options=options)

    async def extract(self, call_id: str, **options: Unpack[RequestOptions]) -> Call:
        """Run a completed call's extraction again; see :meth:`Calls.extract`."""
        return await self._request("POST", _call_path(call_id, "/extract"), Call, options=options)

    async def transcript(self, call_id: str, **options: Unpack[RequestOptions]) -> Transcript:
        """Every transcript segment of a call; see :meth:`Calls.transcript`."""
        path = _call_path(call_id, "/transcript")
        segments, cursor = _segments(await self._client.request("GET", path, options=options))
        while cursor:
            data = await self._client.request("GET", path, query={"cursor": cursor}, options=options)
            more, cursor = _segments(data)
            segments.extend(more)
        return segments
