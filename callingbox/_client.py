"""The two clients, :class:`Callingbox` and :class:`AsyncCallingbox`.

Each resource namespace (``client.agents``, ``client.numbers``, ``client.calls``,
``client.webhook_endpoints``, ``client.events``, ``client.transcripts``) is a
``cached_property`` that imports its module on first use, so creating a client stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

import httpx

from ._base_client import AsyncAPIClient, SyncAPIClient
from ._constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._exceptions import CallingboxError
from ._types import Timeout

if TYPE_CHECKING:
    from .resources.agents import Agents, AsyncAgents
    from .resources.calls import AsyncCalls, Calls
    from .resources.events import AsyncEvents, Events
    from .resources.numbers import AsyncNumbers, Numbers
    from .resources.webhook_endpoints import AsyncWebhookEndpoints, WebhookEndpoints
    from .resources.transcripts import AsyncTranscripts, Transcripts

__all__ = ["Callingbox", "AsyncCallingbox"]


def _resolve_settings(api_key: str | None, base_url: str | None) -> tuple[str, str]:
    """Arguments first, then the environment, then the default base URL."""
    api_key = api_key or os.environ.get(API_KEY_ENV)
    if not api_key:
        raise CallingboxError(
            f"The api_key client option must be set either by passing api_key to the client "
            f"or by setting the {API_KEY_ENV} environment variable"
        )
    base_url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return api_key, base_url


class Callingbox(SyncAPIClient):
    """Synchronous CallingBox client.

    Args:
        api_key: Your API key. Defaults to the ``CALLINGBOX_API_KEY`` environment variable.
        base_url: Where the API lives. Defaults to ``CALLINGBOX_BASE_URL``, else
            ``http://127.0.0.1:8000`` (the local stack of ``callingbox dev``).
        timeout: Seconds per HTTP attempt (a float or an ``httpx.Timeout``; ``None`` waits forever).
        max_retries: Retries after a connection error, a timeout, or a 408/409/429/5xx answer.
        http_client: An ``httpx.Client`` to send requests with (its transport, proxies, limits);
            the SDK does not close a client you pass.
        default_headers: Headers added to every request.

    Raises:
        CallingboxError: no API key was passed and ``CALLINGBOX_API_KEY`` is unset.

    Example::

        client = Callingbox()
        agent = client.agents.create(name="Front desk", type="inbound", number_ids=["pn_xyz789"])
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        api_key, base_url = _resolve_settings(api_key, base_url)
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
            default_headers=default_headers, http_client=http_client,
        )

    @cached_property
    def agents(self) -> Agents:
        """Agents: create, configure, attach numbers, archive, list their calls."""
        from .resources.agents import Agents

        return Agents(self)

    @cached_property
    def numbers(self) -> Numbers:
        """Phone numbers: search, buy or import, route, release, filter rules."""
        from .resources.numbers import Numbers

        return Numbers(self)

    @property
    def phone_numbers(self) -> Numbers:
        """Alias of :attr:`numbers`."""
        return self.numbers

    @cached_property
    def calls(self) -> Calls:
        """Calls: dispatch, retrieve, list, cancel, hang up, read transcripts."""
        from .resources.calls import Calls

        return Calls(self)

    @cached_property
    def webhook_endpoints(self) -> WebhookEndpoints:
        """Webhook endpoints: where events are POSTed, their filters and signing secrets."""
        from .resources.webhook_endpoints import WebhookEndpoints

        return WebhookEndpoints(self)

    @cached_property
    def events(self) -> Events:
        """Events: list and retrieve them with their delivery attempts, redeliver."""
        from .resources.events import Events

        return Events(self)

    @cached_property
    def transcripts(self) -> Transcripts:
        """Transcripts: search across every call's transcript."""
        from .resources.transcripts import Transcripts

        return Transcripts(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class AsyncCallingbox(AsyncAPIClient):
    """Asynchronous CallingBox client; the same arguments and namespaces as :class:`Callingbox`.

    ``http_client`` must be an ``httpx.AsyncClient``. Use it as ``async with AsyncCallingbox() as client:``
    or call ``await client.close()``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        api_key, base_url = _resolve_settings(api_key, base_url)
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
            default_headers=default_headers, http_client=http_client,
        )

    @cached_property
    def agents(self) -> AsyncAgents:
        """Agents: create, configure, attach numbers, archive, list their calls."""
        from .resources.agents import AsyncAgents

        return AsyncAgents(self)

    @cached_property
    def numbers(self) -> AsyncNumbers:
        """Phone numbers: search, buy or import, route, release, filter rules."""
        from .resources.numbers import AsyncNumbers

        return AsyncNumbers(self)

    @property
    def phone_numbers(self) -> AsyncNumbers:
        """Alias of :attr:`numbers`."""
        return self.numbers

    @cached_property
    def calls(self) -> AsyncCalls:
        """Calls: dispatch, retrieve, list, cancel, hang up, read transcripts."""
        from .resources.calls import AsyncCalls

        return AsyncCalls(self)

    @cached_property
    def webhook_endpoints(self) -> AsyncWebhookEndpoints:
        """Webhook endpoints: where events are POSTed, their filters and signing secrets."""
        from .resources.webhook_endpoints import AsyncWebhookEndpoints

        return AsyncWebhookEndpoints(self)

    @cached_property
    def events(self) -> AsyncEvents:
        """Events: list and retrieve them with their delivery attempts, redeliver."""
        from .resources.events import AsyncEvents

        return AsyncEvents(self)

    @cached_property
    def transcripts(self) -> AsyncTranscripts:
        """Transcripts: search across every call's transcript."""
        from .resources.transcripts import AsyncTranscripts

        return AsyncTranscripts(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"
