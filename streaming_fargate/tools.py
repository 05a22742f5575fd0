"""In-call tools: a signed POST to the agent's ``tool_url``, with a timeout and no private destinations.

The request body is ``{"call_id", "tool", "arguments", "context"}``; the header
``CallingBox-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` is the webhook
signature (API.md), keyed by ``CALLINGBOX_TOOL_SIGNING_SECRET``. The JSON reply goes back to the
model; any failure (timeout, refused destination, HTTP error, unreadable reply) raises
:class:`ToolCallError`, whose message is what the model is told.

Server-side request forgery: the host is resolved here and *every* address it resolves to must be
public (:func:`callingbox.core.urls.is_public_address`); loopback is admitted only when the
deployment allows insecure URLs (the local stack). The request then goes to the address we
checked — the URL's host is kept in the ``Host`` header and as the TLS server name — so a DNS
answer that changes between the check and the connection cannot redirect it. Redirects are not
followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import urlsplit, urlunsplit

import httpx

from callingbox.core.urls import is_public_address

__all__ = ["ToolRunner", "ToolCallError", "sign_tool_request", "SIGNATURE_HEADER", "TOOL_TIMEOUT_S",
           "MAX_REPLY_BYTES"]

SIGNATURE_HEADER = "CallingBox-Signature"
# The whole invocation (resolution, connection, reply) must fit in this (API.md: default 5 s);
# the caller is waiting on the line meanwhile.
TOOL_TIMEOUT_S = 5.0
# Replies longer than this are cut before the model sees them: they go into its context window.
MAX_REPLY_BYTES = 64 * 1024

Resolver = Callable[[str, int], Awaitable[list[str]]]


class ToolCallError(Exception):
    """A tool invocation failed; ``str(error)`` is the explanation given to the model."""


def sign_tool_request(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``CallingBox-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds): the same
    scheme as webhook deliveries (:mod:`callingbox.core.signing`), so one verifier serves both."""
    from callingbox.core.signing import sign

    return sign(secret, body, timestamp=timestamp)


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class ToolRunner:
    """Invokes one agent's tools at its ``tool_url``.

    Parameters
    ----------
    url:
        The agent's ``tool_url`` (checked for shape when the agent was saved).
    secret:
        The signing key; an empty key still sends the header (signed with it) so receivers fail closed.
    client:
        A shared ``httpx.AsyncClient`` (the gateway's); one is made per runner when omitted.
    allow_insecure:
        Admit ``http`` and loopback destinations (local stack only).
    timeout_s:
        The budget of one invocation.
    resolve:
        ``(host, port) -> addresses``; the event loop's resolver by default (tests pass their own).
    """

    def __init__(self, url: str, *, secret: bytes, client: Optional[httpx.AsyncClient] = None,
                 allow_insecure: bool = False, timeout_s: float = TOOL_TIMEOUT_S,
                 resolve: Optional[Resolver] = None) -> None:
        self.url = url
        self._secret = secret
        self._client = client
        self._owns_client = client is None
        self._allow_insecure = allow_insecure
        self.timeout_s = timeout_s
        self._resolve = resolve or _resolve

    async def call(self, *, call_id: str, tool: str, arguments: dict[str, Any], context: Any) -> Any:
        """POST the invocation and return the parsed JSON reply (the text if it is not JSON)."""
        body = json.dumps({"call_id": call_id, "tool": tool, "arguments": arguments, "context": context},
                          separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._post(body)
        except TimeoutError:
            raise ToolCallError(f"the tool {tool!r} did not answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as error:
            raise ToolCallError(f"the tool {tool!r} could not be reached ({type(error).__name__})") from None

    async def _post(self, body: bytes) -> Any:
        try:
            parts = urlsplit(self.url)
            host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ToolCallError("the tool_url is not a valid URL") from None
        schemes = ("https", "http") if self._allow_insecure else ("https",)
        if parts.scheme not in schemes or not host:
            raise ToolCallError("the tool_url is not an allowed https URL")
        try:
            addresses = await self._resolve(host, port)
        except OSError:
            raise ToolCallError(f"the tool host {host!r} could not be resolved") from None
        if not addresses:
            raise ToolCallError(f"the tool host {host!r} could not be resolved")
        for address in addresses:
            if not self._allowed(address):
                raise ToolCallError("the tool_url resolves to a private, loopback or link-local address; refused")
        pinned = addresses[0]
        netloc = f"[{pinned}]:{port}" if ":" in pinned else f"{pinned}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Host": parts.netloc.rsplit("@", 1)[-1],
            SIGNATURE_HEADER: sign_tool_request(self._secret, body, timestamp),
            "User-Agent": "CallingBox-Gateway",
        }
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        client = self._http()
        request = client.build_request("POST", target, content=body, headers=headers, extensions=extensions,
                                       timeout=self.timeout_s)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            raw = b""
            async for piece in response.aiter_bytes():
                raw += piece
                if len(raw) > MAX_REPLY_BYTES:
                    raw = raw[:MAX_REPLY_BYTES]
                    break
        finally:
            await response.aclose()
        if not 200 <= response.status_code < 300:
            raise ToolCallError(f"the tool endpoint answered HTTP {response.status_code}")
        text = raw.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _allowed(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if self._allow_insecure and parsed.is_loopback:
            return True
        return is_public_address(parsed)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this runner made it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
