"""Request sending shared by both clients: headers, idempotency keys, retries and error mapping.

One logical API call goes through :meth:`SyncAPIClient.request` (or the async twin):

1. per-request options are merged over the client's (the request wins) and, for POST, PATCH
   and DELETE, one ``Idempotency-Key`` is fixed for the whole call;
2. the request is sent; a 2xx body is decoded as JSON;
3. a connection error, a timeout, or a retryable status (408, 409, 429, 5xx, or whatever the
   server asks for with ``X-Should-Retry``) is retried up to ``max_retries`` times, after
   ``Retry-After`` seconds or an exponential backoff with jitter, with the same key;
4. anything else becomes the matching :class:`~callingbox.APIStatusError` subclass.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from ._constants import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    IDEMPOTENCY_KEY_PREFIX,
    IDEMPOTENT_METHODS,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
)
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    make_status_error,
)
from ._types import RequestOptions, Timeout

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "BaseClient",
    "SyncAPIClient",
    "AsyncAPIClient",
    "construct",
    "FinalRequestOptions",
    "path_id",
]

_ModelT = TypeVar("_ModelT", bound="BaseModel")
_SelfT = TypeVar("_SelfT")

_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__optional_keys__)


@dataclass(frozen=True)
class FinalRequestOptions:
    """The options one logical call runs with, after merging; fixed across its retries."""

    headers: Mapping[str, str]
    timeout: Timeout
    max_retries: int
    idempotency_key: str | None


def path_id(name: str, value: str) -> str:
    """Check that ``value`` is a non-empty id and escape it for use in a URL path.

    Raises:
        ValueError: ``value`` is empty, blank or not a string.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"Expected a non-empty value for `{name}` but received {value!r}")
    return quote(value, safe="")


def new_idempotency_key() -> str:
    """A fresh ``Idempotency-Key`` value, ``cbk_`` plus a random uuid4."""
    return f"{IDEMPOTENCY_KEY_PREFIX}{uuid.uuid4().hex}"


class BaseClient:
    """Settings and decisions shared by the sync and async clients; no I/O happens here."""

    api_key: str
    base_url: str
    timeout: Timeout
    max_retries: int

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self._custom_headers = dict(default_headers or {})

    @property
    def default_headers(self) -> dict[str, str]:
        """Headers sent with every request: auth, content negotiation, then ``default_headers``."""
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"callingbox-python/{_sdk_version()}",
            **self._custom_headers,
        }

    def _final_options(self, method: str, options: RequestOptions | None) -> FinalRequestOptions:
        """Merge per-request ``options`` over the client's; fix the idempotency key for every retry."""
        options = options or {}
        unknown = set(options) - _REQUEST_OPTION_KEYS
        if unknown:
            names = ", ".join(sorted(repr(name) for name in unknown))
            allowed = ", ".join(sorted(_REQUEST_OPTION_KEYS))
            raise TypeError(f"unexpected keyword argument {names} (request options are: {allowed})")
        headers = httpx.Headers(self.default_headers)
        headers.update(options.get("extra_headers") or {})
        key = options.get("idempotency_key") or headers.get("Idempotency-Key")
        if key is None and method.upper() in IDEMPOTENT_METHODS:
            key = new_idempotency_key()
        if key is not None:
            headers["Idempotency-Key"] = key
        max_retries = options.get("max_retries", self.max_retries)
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        return FinalRequestOptions(
            headers=dict(headers.items()),
            timeout=options.get("timeout", self.timeout),
            max_retries=max_retries,
            idempotency_key=key,
        )

    def _build_request(
        self,
        http_client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        *,
        body: Any,
        query: Mapping[str, Any] | None,
        options: FinalRequestOptions,
    ) -> httpx.Request:
        params = {key: value for key, value in (query or {}).items() if value is not None}
        return http_client.build_request(
            method,
            self.base_url + path,
            params=params or None,
            json=_jsonable(body) if body is not None else None,
            headers=options.headers,
            timeout=options.timeout,
        )

    @staticmethod
    def _should_retry(response: httpx.Response) -> bool:
        """Whether a failed response is worth another attempt; ``X-Should-Retry`` has the last word."""
        steer = response.headers.get("X-Should-Retry", "").strip().lower()
        if steer == "true":
            return True
        if steer == "false":
            return False
        return response.status_code in _RETRYABLE_STATUSES or response.status_code >= 500

    @staticmethod
    def _retry_delay(retries_taken: int, headers: httpx.Headers | None = None) -> float:
        """Seconds to wait before retry number ``retries_taken + 1``.

        A ``Retry-After`` of at most :data:`MAX_RETRY_AFTER` seconds is obeyed as is; otherwise the
        delay is ``INITIAL_RETRY_DELAY * 2**retries_taken`` capped at ``MAX_RETRY_DELAY``, minus up
        to 25 % jitter.
        """
        retry_after = _parse_retry_after(headers)
        if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
            return retry_after
        delay = min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY)
        return delay * (1 - 0.25 * random.random())

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        """The JSON body of a 2xx response (``None`` when empty)."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise APIResponseValidationError(
                f"Expected a JSON body from {response.request.method} {response.request.url.path}, "
                f"got {response.headers.get('content-type', 'no content type')}",
                request=response.request,
                body=response.text,
            ) from exc

    @staticmethod
    def _status_error(response: httpx.Response) -> APIStatusError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text or response.reason_phrase
        return make_status_error(
            response.status_code, body, request_id=response.headers.get("Request-Id"), response=response
        )


class SyncAPIClient(BaseClient):
    """Sends requests with an ``httpx.Client``; the base of :class:`~callingbox.Callingbox`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(f"http_client must be an httpx.Client, got {type(http_client).__name__}")
        self._owns_http_client = http_client is None
        self._client = http_client if http_client is not None else httpx.Client()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any:
        """Send one logical call (with its retries) and return the decoded JSON body.

        Raises:
            APIStatusError: a subclass matching the final 4xx/5xx response.
            APIConnectionError: the last attempt got no answer (``APITimeoutError`` on a timeout).
        """
        final = self._final_options(method, options)
        retries_taken = 0
        while True:
            request = self._build_request(self._client, method, path, body=body, query=query, options=final)
            try:
                response = self._client.send(request)
            except httpx.TransportError as exc:
                if retries_taken >= final.max_retries:
                    raise _connection_error(exc, request) from exc
                self._sleep(self._retry_delay(retries_taken))
                retries_taken += 1
                continue
            if response.is_success:
                return self._decode(response)
            if retries_taken < final.max_retries and self._should_retry(response):
                delay = self._retry_delay(retries_taken, response.headers)
                response.close()
                self._sleep(delay)
                retries_taken += 1
                continue
            raise self._status_error(response)

    def _sleep(self, seconds: float) -> None:
        """Wait between attempts; a seam for tests to drive a fake clock by subclassing."""
        time.sleep(seconds)

    def close(self) -> None:
        """Close the underlying ``httpx.Client`` if the SDK created it (a passed one is left open)."""
        if self._owns_http_client:
            self._client.close()

    def __enter__(self: _SelfT) -> _SelfT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncAPIClient(BaseClient):
    """Sends requests with an ``httpx.AsyncClient``; the base of :class:`~callingbox.AsyncCallingbox`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}")
        self._owns_http_client = http_client is None
        self._client = http_client if http_client is not None else httpx.AsyncClient()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any:
        """Async twin of :meth:`SyncAPIClient.request`."""
        final = self._final_options(method, options)
        retries_taken = 0
        while True:
            request = self._build_request(self._client, method, path, body=body, query=query, options=final)
            try:
                response = await self._client.send(request)
            except httpx.TransportError as exc:
                if retries_taken >= final.max_retries:
                    raise _connection_error(exc, request) from exc
                await self._sleep(self._retry_delay(retries_taken))
                retries_taken += 1
                continue
            if response.is_success:
                return self._decode(response)
            if retries_taken < final.max_retries and self._should_retry(response):
                delay = self._retry_delay(retries_taken, response.headers)
                await response.aclose()
                await self._sleep(delay)
                retries_taken += 1
                continue
            raise self._status_error(response)

    async def _sleep(self, seconds: float) -> None:
        """Wait between attempts; a seam for tests to drive a fake clock by subclassing."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        """Close the underlying ``httpx.AsyncClient`` if the SDK created it."""
        if self._owns_http_client:
            await self._client.aclose()

    async def __aenter__(self: _SelfT) -> _SelfT:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def construct(cast_to: type[_ModelT], data: Any) -> _ModelT:
    """Validate ``data`` into ``cast_to``; a mismatch is an :class:`APIResponseValidationError`."""
    try:
        return cast_to.model_validate(data)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise APIResponseValidationError(
            f"The response did not match {cast_to.__name__}: {exc}", body=data
        ) from exc


def _connection_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(request=request)
    return APIConnectionError(f"Connection error: {exc}" if str(exc) else "Connection error.", request=request)


def _parse_retry_after(headers: httpx.Headers | None) -> float | None:
    """``Retry-After`` in seconds, from either a number or an HTTP date; ``None`` if absent or bad."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _jsonable(value: Any) -> Any:
    """Turn request values into JSON-ready data; pydantic models become their JSON dicts."""
    if hasattr(value, "model_dump") and callable(value.model_dump):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


@lru_cache(maxsize=1)
def _sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("callingbox")
    except PackageNotFoundError:
        return "0.0.0"
