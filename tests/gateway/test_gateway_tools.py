"""In-call tools against a real HTTP server on loopback: signature, reply, timeout, refused destinations."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any, Callable, Iterator, Optional

import pytest

from streaming_fargate.tools import SIGNATURE_HEADER, ToolCallError, ToolRunner, sign_tool_request
from tests.gateway.fakes import ToolServer
from tests.gateway.fakes import verify_signature as verify

SECRET = b"tool-secret"


@pytest.fixture
def echo_server() -> Iterator[ToolServer]:
    with ToolServer(lambda body: (200, json.dumps({"ok": True, "echo": body["arguments"]}).encode())) as server:
        yield server


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def invoke(url: str, *, allow_insecure: bool = True, timeout_s: float = 2.0,
                 resolve: Optional[Callable[..., Any]] = None) -> Any:
    runner = ToolRunner(url, secret=SECRET, allow_insecure=allow_insecure, timeout_s=timeout_s, resolve=resolve)
    try:
        return await runner.call(call_id="call_1", tool="lookup", arguments={"order": "42"},
                                 context={"customer": "Ada"})
    finally:
        await runner.aclose()


def test_the_request_is_signed_and_the_json_reply_comes_back(echo_server: ToolServer) -> None:
    reply = run(invoke(echo_server.url))
    assert reply == {"ok": True, "echo": {"order": "42"}}
    (headers, body), = echo_server.requests
    assert json.loads(body) == {"call_id": "call_1", "tool": "lookup", "arguments": {"order": "42"},
                                "context": {"customer": "Ada"}}
    assert verify(headers[SIGNATURE_HEADER], body, SECRET)
    assert not verify(headers[SIGNATURE_HEADER], body, b"another secret")
    assert headers["Host"] == echo_server.url.split("/")[2]


def test_the_signature_follows_the_webhook_scheme() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign_tool_request(b"k", body, 1700000000) == f"t=1700000000,v1={expected}"


def test_a_slow_tool_times_out_with_an_explanation_for_the_model() -> None:
    def slow(body: dict[str, Any]) -> tuple[int, bytes]:
        server.release.wait(5)
        return 200, b"{}"

    with ToolServer(slow) as server:
        began = time.monotonic()
        with pytest.raises(ToolCallError, match="did not answer within 0.3 s"):
            run(invoke(server.url, timeout_s=0.3))
        assert time.monotonic() - began < 1.5


def test_an_http_error_is_a_tool_failure() -> None:
    with ToolServer(lambda body: (500, b'{"error": "boom"}')) as server:
        with pytest.raises(ToolCallError, match="HTTP 500"):
            run(invoke(server.url))


@pytest.mark.parametrize("addresses", [
    ["10.0.0.5"], ["169.254.169.254"], ["192.168.1.10"], ["::1"], ["fd00::1"],
    ["93.184.216.34", "10.0.0.5"],  # one private answer among public ones is enough to refuse
])
def test_private_loopback_and_link_local_destinations_are_refused(addresses: list[str]) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return addresses

    with pytest.raises(ToolCallError, match="private, loopback or link-local"):
        run(invoke("https://tools.example.com/hook", allow_insecure=False, resolve=resolve))


def test_loopback_is_refused_unless_insecure_urls_are_allowed(echo_server: ToolServer) -> None:
    with pytest.raises(ToolCallError):  # http itself is refused in production
        run(invoke(echo_server.url, allow_insecure=False))
    with pytest.raises(ToolCallError, match="private, loopback"):
        run(invoke("https://localhost:1/hook", allow_insecure=False))
    assert echo_server.requests == []


def test_the_checked_address_is_the_one_connected_to(echo_server: ToolServer) -> None:
    # GIVEN a name that resolves (for our check) to the loopback tool server
    port = echo_server.url.split(":")[2].split("/")[0]

    async def resolve(host: str, port_: int) -> list[str]:
        return ["127.0.0.1"]

    reply = run(invoke(f"http://tools.invalid:{port}/tools", resolve=resolve))
    # THEN the request reached it (no second, unchecked resolution of tools.invalid happened)
    assert reply["ok"] is True
    assert echo_server.requests[0][0]["Host"] == f"tools.invalid:{port}"
