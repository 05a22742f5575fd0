"""``client.events``: what happened to calls, and where each event was delivered (``/v1/events``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Unpack

from .._base_client import path_id
from .._types import NOT_GIVEN, NotGiven, RequestOptions, strip_not_given
from ..pagination import AsyncCursorPage, SyncCursorPage
from ..types import Event
from ..types.event import EventType
from . import AsyncAPIResource, SyncAPIResource

__all__ = ["Events", "AsyncEvents"]


def _event_path(event_id: str, action: str = "") -> str:
    return f"/v1/events/{path_id('event_id', event_id)}{action}"


class Events(SyncAPIResource):
    """List and retrieve events, see their delivery attempts, and deliver them again."""

    def list(
        self,
        *,
        type: EventType | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[Event]:
        """List events newest first, optionally of one ``type`` (``GET /v1/events``)."""
        query = strip_not_given({"type": type, "limit": limit, "cursor": cursor})
        return self._get_page("/v1/events", Event, query=query, options=options)

    def iter_events(
        self,
        *,
        type: EventType | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> Iterator[Event]:
        """Yield every event (of ``type``) across all pages."""
        yield from self.list(type=type, limit=limit, **options)

    def retrieve(self, event_id: str, **options: Unpack[RequestOptions]) -> Event:
        """Get one event with ``deliveries``: each destination's status and every attempt
        (``GET /v1/events/{id}``)."""
        return self._request("GET", _event_path(event_id), Event, options=options)

    def redeliver(self, event_id: str, **options: Unpack[RequestOptions]) -> Event:
        """Send the event again to each of its destinations, same id and body, with a fresh 24 h of
        retries (``POST /v1/events/{id}/redeliver``)."""
        return self._request("POST", _event_path(event_id, "/redeliver"), Event, options=options)


class AsyncEvents(AsyncAPIResource):
    """Async twin of :class:`Events`."""

    async def list(
        self,
        *,
        type: EventType | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[Event]:
        """List events; ``async for`` walks every page. See :meth:`Events.list`."""
        query = strip_not_given({"type": type, "limit": limit, "cursor": cursor})
        return await self._get_page("/v1/events", Event, query=query, options=options)

    async def iter_events(
        self,
        *,
        type: EventType | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[Event]:
        """Yield every event across all pages: ``async for event in client.events.iter_events()``."""
        async for event in await self.list(type=type, limit=limit, **options):
            yield event

    async def retrieve(self, event_id: str, **options: Unpack[RequestOptions]) -> Event:
        """Get one event with its deliveries; see :meth:`Events.retrieve`."""
        return await self._request("GET", _event_path(event_id), Event, options=options)

    async def redeliver(self, event_id: str, **options: Unpack[RequestOptions]) -> Event:
        """Send the event again; see :meth:`Events.redeliver`."""
        return await self._request("POST", _event_path(event_id, "/redeliver"), Event, options=options)
