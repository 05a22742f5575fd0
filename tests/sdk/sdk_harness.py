"""SDK test harness: a scripted ``httpx.MockTransport`` and a fake clock, for the sync and async clients.

Every test that takes the ``sdk`` fixture runs twice, once per client. Tests are written as
``async def`` and go through ``await sdk.run(lambda client: client.agents.retrieve("agent_1"))``,
which awaits the result only when the async client returned a coroutine.
"""

from __future__ import annotations

import inspect
import json
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from callingbox import AsyncCallingbox, Callingbox

BASE_URL = "http://callingbox.test"
API_KEY = "sk_test_123"
NOW = 1_700_000_000

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeClockCallingbox(Callingbox):
    """Records the waits between retries instead of sleeping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sleeps: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class FakeClockAsyncCallingbox(AsyncCallingbox):
    """Async twin of :class:`FakeClockCallingbox`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sleeps: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class MockServer:
    """Answers requests from a queue of scripted replies (then a default) and records each request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None

    def reply(self, *replies: Reply) -> None:
        """Queue replies: a response, an exception to raise, or a function of the request."""
        self.replies.extend(replies)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        reply = self.replies.popleft() if self.replies else self.default
        if reply is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    @property
    def last(self) -> httpx.Request:
        """The most recent request."""
        return self.requests[-1]


def body_of(request: httpx.Request) -> Any:
    """The JSON body of a recorded request (``None`` when it has none)."""
    return json.loads(request.content) if request.content else None


def ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, json=payload, headers={"Request-Id": "req_ok", **(headers or {})})


def error(
    status: int, code: str, message: str = "something went wrong", *, param: str | None = None,
    type: str = "invalid_request_error", request_id: str = "req_123", headers: dict[str, str] | None = None,
) -> httpx.Response:
    """An error response shaped like the API's ``{"error": {...}}`` body."""
    body = {"error": {"type": type, "code": code, "message": message, "param": param, "request_id": request_id}}
    return httpx.Response(status, json=body, headers={"Request-Id": request_id, **(headers or {})})


def listing(data: list[Any], next_cursor: str | None = None) -> dict[str, Any]:
    """A list body; ``has_more`` follows ``next_cursor``."""
    return {"object": "list", "data": data, "has_more": next_cursor is not None, "next_cursor": next_cursor}


def agent_json(**overrides: Any) -> dict[str, Any]:
    """An agent as the API returns it."""
    agent = {
        "id": "agent_1", "object": "agent", "name": "Front desk", "type": "inbound",
        "persona": "You are friendly.", "instructions": "Answer calls.", "number_ids": ["pn_xyz789"],
        "primary_number_id": "pn_xyz789", "created": NOW, "updated": NOW,
    }
    return {**agent, **overrides}


def call_json(**overrides: Any) -> dict[str, Any]:
    """A call record as the API returns it."""
    call = {
        "id": "call_1", "object": "call", "agent_id": "agent_1", "direction": "outbound",
        "from_number": "+14155550100", "to_number": "+14155550123", "status": "queued",
        "created": NOW, "updated": NOW,
    }
    return {**call, **overrides}


def number_json(**overrides: Any) -> dict[str, Any]:
    """A phone number as the API returns it."""
    number = {"id": "pn_1", "object": "phone_number", "number": "+14155550100", "carrier": "local", "created": NOW}
    return {**number, **overrides}


def rule_json(**overrides: Any) -> dict[str, Any]:
    """A number filter rule as the API returns it."""
    rule = {
        "id": "rule_1", "object": "number_rule", "number_id": "pn_1", "exact_number": "+14155550199",
        "action": "block", "status": "active", "created": NOW, "updated": NOW,
    }
    return {**rule, **overrides}


class SDK:
    """One client (sync or async) wired to a :class:`MockServer`."""

    def __init__(self, mode: str, server: MockServer) -> None:
        self.mode = mode
        self.server = server
        self.client = self.make()

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def make(self, **kwargs: Any) -> FakeClockCallingbox | FakeClockAsyncCallingbox:
        """A new client of this mode on the mock transport; ``kwargs`` go to the constructor."""
        transport = httpx.MockTransport(self.server)
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        if self.is_async:
            return FakeClockAsyncCallingbox(http_client=httpx.AsyncClient(transport=transport), **kwargs)
        return FakeClockCallingbox(http_client=httpx.Client(transport=transport), **kwargs)

    async def run(self, action: Callable[[Any], Any], client: Any = None) -> Any:
        """Call ``action(client)`` and await its result if it is awaitable."""
        result = action(client if client is not None else self.client)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def collect(self, items: Any) -> list[Any]:
        """Drain a page or an iterator, sync or async."""
        if hasattr(items, "__aiter__"):
            return [item async for item in items]
        return list(items)
