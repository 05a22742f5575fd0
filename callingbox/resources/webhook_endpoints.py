"""``client.webhook_endpoints``: account-wide webhook endpoints (``/v1/webhook_endpoints``) and the
secret that signs deliveries to agents' and calls' ``webhook_url`` (``/v1/webhook_secret``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Unpack

from .._base_client import path_id
from .._types import NOT_GIVEN, NotGiven, RequestOptions, pick_given, strip_not_given
from ..pagination import AsyncCursorPage, SyncCursorPage
from ..types import DeletedObject, WebhookEndpoint, WebhookSecret
from . import AsyncAPIResource, SyncAPIResource

__all__ = ["WebhookEndpoints", "AsyncWebhookEndpoints"]

_FIELDS = ("url", "events", "enabled", "description", "metadata")
_UPDATE_FIELDS = (*_FIELDS, "rotate_secret")


def _endpoint_path(endpoint_id: str) -> str:
    return f"/v1/webhook_endpoints/{path_id('webhook_endpoint_id', endpoint_id)}"


def _body(values: Mapping[str, object], names: Sequence[str]) -> dict[str, object]:
    body = pick_given(values, names)
    if "events" in body and body["events"] is not None:
        body["events"] = list(body["events"])  # type: ignore[call-overload]
    return body


class WebhookEndpoints(SyncAPIResource):
    """Create, list, edit and delete webhook endpoints; rotate signing secrets."""

    def create(
        self,
        *,
        url: str,
        events: Sequence[str] | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        description: str | None | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> WebhookEndpoint:
        """Add an endpoint (``POST /v1/webhook_endpoints``). Store ``.secret`` now: it is never shown again.

        Args:
            url: An https URL on the public internet.
            events: Event types to receive (``["call.completed"]``); default ``["*"]``, every type.
            enabled: False to create it paused.
            description: A note for yourself.
            metadata: Up to 20 string pairs.
        """
        return self._request("POST", "/v1/webhook_endpoints", WebhookEndpoint, body=_body(locals(), _FIELDS),
                             options=options)

    def retrieve(self, endpoint_id: str, **options: Unpack[RequestOptions]) -> WebhookEndpoint:
        """Get one endpoint (``GET /v1/webhook_endpoints/{id}``); ``secret`` is not included."""
        return self._request("GET", _endpoint_path(endpoint_id), WebhookEndpoint, options=options)

    def list(
        self,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> SyncCursorPage[WebhookEndpoint]:
        """List endpoints, newest first (``GET /v1/webhook_endpoints``)."""
        query = strip_not_given({"limit": limit, "cursor": cursor})
        return self._get_page("/v1/webhook_endpoints", WebhookEndpoint, query=query, options=options)

    def update(
        self,
        endpoint_id: str,
        *,
        url: str | NotGiven = NOT_GIVEN,
        events: Sequence[str] | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        description: str | None | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | None | NotGiven = NOT_GIVEN,
        rotate_secret: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> WebhookEndpoint:
        """Change an endpoint (``PATCH /v1/webhook_endpoints/{id}``); fields left out stay as they are.

        ``rotate_secret=True`` returns a new ``secret`` (shown this once); the previous one keeps
        signing beside it until ``previous_secret_expires_at`` (24 h).
        """
        return self._request("PATCH", _endpoint_path(endpoint_id), WebhookEndpoint,
                             body=_body(locals(), _UPDATE_FIELDS), options=options)

    def rotate_secret(self, endpoint_id: str, **options: Unpack[RequestOptions]) -> WebhookEndpoint:
        """Shorthand for ``update(endpoint_id, rotate_secret=True)``."""
        return self.update(endpoint_id, rotate_secret=True, **options)

    def delete(self, endpoint_id: str, **options: Unpack[RequestOptions]) -> DeletedObject:
        """Delete an endpoint (``DELETE /v1/webhook_endpoints/{id}``); its pending retries stop."""
        return self._request("DELETE", _endpoint_path(endpoint_id), DeletedObject, options=options)

    def retrieve_signing_secret(self, **options: Unpack[RequestOptions]) -> WebhookSecret:
        """The secret signing deliveries to agents' and calls' ``webhook_url`` (``GET /v1/webhook_secret``)."""
        return self._request("GET", "/v1/webhook_secret", WebhookSecret, options=options)

    def rotate_signing_secret(self, **options: Unpack[RequestOptions]) -> WebhookSecret:
        """Replace the ``webhook_url`` signing secret; the old one signs for 24 h more
        (``POST /v1/webhook_secret/rotate``)."""
        return self._request("POST", "/v1/webhook_secret/rotate", WebhookSecret, options=options)


class AsyncWebhookEndpoints(AsyncAPIResource):
    """Async twin of :class:`WebhookEndpoints`."""

    async def create(
        self,
        *,
        url: str,
        events: Sequence[str] | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        description: str | None | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> WebhookEndpoint:
        """Add an endpoint; see :meth:`WebhookEndpoints.create`."""
        return await self._request("POST", "/v1/webhook_endpoints", WebhookEndpoint,
                                   body=_body(locals(), _FIELDS), options=options)

    async def retrieve(self, endpoint_id: str, **options: Unpack[RequestOptions]) -> WebhookEndpoint:
        """Get one endpoint; see :meth:`WebhookEndpoints.retrieve`."""
        return await self._request("GET", _endpoint_path(endpoint_id), WebhookEndpoint, options=options)

    async def list(
        self,
        *,
        limit: int | NotGiven = NOT_GIVEN,
        cursor: str | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> AsyncCursorPage[WebhookEndpoint]:
        """List endpoints; ``async for`` walks every page. See :meth:`WebhookEndpoints.list`."""
        query = strip_not_given({"limit": limit, "cursor": cursor})
        return await self._get_page("/v1/webhook_endpoints", WebhookEndpoint, query=query, options=options)

    async def update(
        self,
        endpoint_id: str,
        *,
        url: str | NotGiven = NOT_GIVEN,
        events: Sequence[str] | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
        description: str | None | NotGiven = NOT_GIVEN,
        metadata: Mapping[str, str] | None | NotGiven = NOT_GIVEN,
        rotate_secret: bool | NotGiven = NOT_GIVEN,
        **options: Unpack[RequestOptions],
    ) -> WebhookEndpoint:
        """Change an endpoint; see :meth:`WebhookEndpoints.update`."""
        return await self._request("PATCH", _endpoint_path(endpoint_id), WebhookEndpoint,
                                   body=_body(locals(), _UPDATE_FIELDS), options=options)

    async def rotate_secret(self, endpoint_id: str, **options: Unpack[RequestOptions]) -> WebhookEndpoint:
        """Shorthand for ``update(endpoint_id, rotate_secret=True)``."""
        return await self.update(endpoint_id, rotate_secret=True, **options)

    async def delete(self, endpoint_id: str, **options: Unpack[RequestOptions]) -> DeletedObject:
        """Delete an endpoint; see :meth:`WebhookEndpoints.delete`."""
        return await self._request("DELETE", _endpoint_path(endpoint_id), DeletedObject, options=options)

    async def retrieve_signing_secret(self, **options: Unpack[RequestOptions]) -> WebhookSecret:
        """The ``webhook_url`` signing secret; see :meth:`WebhookEndpoints.retrieve_signing_secret`."""
        return await self._request("GET", "/v1/webhook_secret", WebhookSecret, options=options)

    async def rotate_signing_secret(self, **options: Unpack[RequestOptions]) -> WebhookSecret:
        """Rotate the ``webhook_url`` signing secret; see :meth:`WebhookEndpoints.rotate_signing_secret`."""
        return await self._request("POST", "/v1/webhook_secret/rotate", WebhookSecret, options=options)
