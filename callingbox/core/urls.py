"""Customer-supplied URLs (webhooks, tools): shape checks when they are saved.

Resolution to an address and the private/link-local check happen again when we send (a DNS name
can change); this first check rejects what is wrong on its face.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .errors import InvalidRequest

__all__ = ["check_customer_url", "is_public_address"]


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses on the public internet (not private, loopback, link-local, reserved…)."""
    return not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )


def check_customer_url(url: str | None, *, param: str, allow_insecure: bool) -> None:
    """Raise :class:`InvalidRequest` unless ``url`` is an absolute https URL to a public host.

    ``allow_insecure`` (local stack only) also admits http and loopback hosts.
    """
    if url is None:
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port outside 0-65535
    except ValueError:
        raise InvalidRequest("is not a valid URL", param=param, code="invalid_url") from None
    schemes = {"https", "http"} if allow_insecure else {"https"}
    if parts.scheme not in schemes or not host:
        raise InvalidRequest("must be an absolute https:// URL", param=param, code="invalid_url")
    if parts.username or parts.password:
        raise InvalidRequest("must not carry credentials", param=param, code="invalid_url")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host in {"localhost", "localhost.localdomain"} or host.endswith(".localhost"):
            if not allow_insecure:
                raise InvalidRequest("must not point at this host", param=param, code="url_not_allowed") from None
        return
    if allow_insecure and address.is_loopback:
        return
    if not is_public_address(address):
        raise InvalidRequest("must not point at a private, loopback or link-local address", param=param,
                             code="url_not_allowed")
