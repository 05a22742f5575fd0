"""One signed POST to a customer's URL, refused when the URL leads inside the network.

The URL was checked when it was saved, but a DNS name can point anywhere at send time, so the
host is resolved here and *every* address it resolves to must be public (not private, loopback,
link-local — 169.254.169.254, the instance metadata service, is link-local — multicast, reserved
or unspecified). The request then connects to the checked address itself, not to the name: a
second lookup (DNS rebinding) cannot swap in an internal address between check and connect.
``Host`` and the TLS server name stay the original host, so virtual hosting and certificate
checks work as usual.

Loopback is allowed only with ``allow_loopback`` (``Settings.allow_insecure_urls``, set by the
local stack alone), which also allows plain http.

Redirects are not followed (a 3xx is a failed attempt): following one would skip the check.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from ..urls import is_public_address
from .exceptions import DestinationRefused
from .types import HttpOutcome, ResolvedTarget

__all__ = ["resolve_target", "post", "TIMEOUT_S", "Resolver"]

# A receiver gets 10 s to answer; it should queue its work and answer at once.
TIMEOUT_S = 10.0
USER_AGENT = "CallingBox-Webhooks/1.0"
_DEFAULT_PORTS = {"https": 443, "http": 80}

Resolver = Callable[..., list[tuple[Any, ...]]]
"""``socket.getaddrinfo``'s signature; tests pass their own to play a DNS server."""

_client: Optional[Any] = None
_client_lock = threading.Lock()


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global also excludes shared address space (100.64.0.0/10, carrier-grade NAT), which
    # is_public_address lets through and which a VPC may route internally.
    return (is_public_address(address) and address.is_global) or (allow_loopback and address.is_loopback)


def resolve_target(url: str, *, allow_loopback: bool, resolver: Resolver = socket.getaddrinfo) -> ResolvedTarget:
    """Check ``url`` and resolve its host; :class:`DestinationRefused` says why it may not be called."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise DestinationRefused(f"{url!r} is not a valid URL") from None
    schemes = {"https", "http"} if allow_loopback else {"https"}
    if parts.scheme not in schemes or not host:
        raise DestinationRefused("the URL must be an absolute https:// URL")
    port = port or _DEFAULT_PORTS[parts.scheme]
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise DestinationRefused(f"cannot resolve {host}: {error}") from None
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        address = ipaddress.ip_address(raw)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DestinationRefused(f"{host} resolves to no address")
    for address in addresses:
        if not _allowed(address, allow_loopback):
            raise DestinationRefused(f"{host} resolves to {address}, a private, loopback or link-local "
                                     "address; webhooks go to public addresses only")
    chosen = addresses[0]
    if isinstance(chosen, ipaddress.IPv6Address) and chosen.ipv4_mapped is not None:
        chosen = chosen.ipv4_mapped
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return ResolvedTarget(url=url, scheme=parts.scheme, host=host, port=port, address=str(chosen), target=target)


def _http() -> Any:
    """One client per process, without keep-alive: pooled connections are keyed by address, and a
    connection verified for one host name must never carry a request for another."""
    global _client
    with _client_lock:
        if _client is None:
            import httpx

            _client = httpx.Client(
                trust_env=False,  # no proxy from the environment: it would resolve the name itself
                follow_redirects=False,
                timeout=httpx.Timeout(TIMEOUT_S),
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return _client


def post(target: ResolvedTarget, body: bytes, headers: Mapping[str, str], *,
         timeout: float = TIMEOUT_S) -> HttpOutcome:
    """POST ``body`` to the resolved address; never raises for network trouble (it is the outcome)."""
    import httpx

    host_for_url = f"[{target.address}]" if ":" in target.address else target.address
    default_port = _DEFAULT_PORTS[target.scheme] == target.port
    name = f"[{target.host}]" if ":" in target.host else target.host
    host_header = name if default_port else f"{name}:{target.port}"
    request_headers = {"Host": host_header, "Content-Type": "application/json", "User-Agent": USER_AGENT,
                       **headers}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.monotonic()
    try:
        with _http().stream("POST", f"{target.scheme}://{host_for_url}:{target.port}{target.target}",
                            content=body, headers=request_headers, extensions=extensions,
                            timeout=httpx.Timeout(timeout)) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return HttpOutcome(None, _elapsed(started), f"no response within {timeout:g} s")
    except httpx.HTTPError as error:
        return HttpOutcome(None, _elapsed(started), f"connection failed: {error or type(error).__name__}")
    return HttpOutcome(status, _elapsed(started), None if 200 <= status < 300 else f"HTTP {status}")


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
