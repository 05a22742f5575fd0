"""The resource namespaces behind ``client.agents``, ``client.numbers``, ``client.calls``,
``client.webhook_endpoints``, ``client.events`` and ``client.transcripts``.

Each lives in a module of its own with a sync class and its async twin, built on the two
base classes below. The namespaces are imported on first access.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

from .._base_client import AsyncAPIClient, SyncAPIClient, construct
from .._types import RequestOptions

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..pagination import AsyncCursorPage, SyncCursorPage
    from .agents import Agents, AsyncAgents
    from .calls import AsyncCalls, Calls
    from .events import AsyncEvents, Events
    from .numbers import AsyncNumberRules, AsyncNumbers, NumberRules, Numbers
    from .webhook_endpoints import AsyncWebhookEndpoints, WebhookEndpoints
    from .transcripts import AsyncTranscripts, Transcripts

__all__ = [
    "SyncAPIResource",
    "AsyncAPIResource",
    "Agents",
    "AsyncAgents",
    "Numbers",
    "AsyncNumbers",
    "NumberRules",
    "AsyncNumberRules",
    "Calls",
    "AsyncCalls",
    "WebhookEndpoints",
    "AsyncWebhookEndpoints",
    "Events",
    "AsyncEvents",
    "Transcripts",
    "AsyncTranscripts",
]

_ModelT = TypeVar("_ModelT", bound="BaseModel")


class SyncAPIResource:
    """Base of the sync resource namespaces (``client.agents`` …): thin typed wrappers over requests."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client

    def _request(
        self, method: str, path: str, cast_to: type[_ModelT], *, body: Any = None,
        query: Mapping[str, Any] | None = None, options: RequestOptions | None = None,
    ) -> _ModelT:
        data = self._client.request(method, path, body=body, query=query, options=options)
        return construct(cast_to, data)

    def _get_page(
        self, path: str, model: type[_ModelT], *, query: Mapping[str, Any], options: RequestOptions | None,
    ) -> SyncCursorPage[_ModelT]:
        from ..pagination import SyncCursorPage
        from ..types import ListObject

        def fetch(cursor: str | None) -> SyncCursorPage[_ModelT]:
            params = {**query, "cursor": cursor} if cursor else dict(query)
            data = self._client.request("GET", path, query=params, options=options)
            listing = construct(ListObject[model], data)  # type: ignore[valid-type]
            return SyncCursorPage(
                data=listing.data, has_more=listing.has_more, next_cursor=listing.next_cursor, fetch=fetch
            )

        return fetch(query.get("cursor"))


class AsyncAPIResource:
    """Base of the async resource namespaces."""

    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client

    async def _request(
        self, method: str, path: str, cast_to: type[_ModelT], *, body: Any = None,
        query: Mapping[str, Any] | None = None, options: RequestOptions | None = None,
    ) -> _ModelT:
        data = await self._client.request(method, path, body=body, query=query, options=options)
        return construct(cast_to, data)

    async def _get_page(
        self, path: str, model: type[_ModelT], *, query: Mapping[str, Any], options: RequestOptions | None,
    ) -> AsyncCursorPage[_ModelT]:
        from ..pagination import AsyncCursorPage
        from ..types import ListObject

        async def fetch(cursor: str | None) -> AsyncCursorPage[_ModelT]:
            params = {**query, "cursor": cursor} if cursor else dict(query)
            data = await self._client.request("GET", path, query=params, options=options)
            listing = construct(ListObject[model], data)  # type: ignore[valid-type]
            return AsyncCursorPage(
                data=listing.data, has_more=listing.has_more, next_cursor=listing.next_cursor, fetch=fetch
            )

        return await fetch(query.get("cursor"))


_MODULES = {
    "Agents": "agents",
    "AsyncAgents": "agents",
    "Numbers": "numbers",
    "AsyncNumbers": "numbers",
    "NumberRules": "numbers",
    "AsyncNumberRules": "numbers",
    "Calls": "calls",
    "AsyncCalls": "calls",
    "WebhookEndpoints": "webhook_endpoints",
    "AsyncWebhookEndpoints": "webhook_endpoints",
    "Events": "events",
    "AsyncEvents": "events",
    "Transcripts": "transcripts",
    "AsyncTranscripts": "transcripts",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
