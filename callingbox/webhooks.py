"""Verifying webhook deliveries: ``callingbox.webhooks.verify(body, header, secret)``.

Every delivery is POSTed with ``CallingBox-Signature: t=<unix>,v1=<hex>`` and
``CallingBox-Event-Id: evt_…``. Verify the *raw* body before parsing it, then act on the typed
event; answer 2xx quickly (deliveries time out after 10 s and are retried) and dedupe on the
event id, which is the same on every retry::

    from callingbox import webhooks, WebhookVerificationError

    @app.post("/hooks/callingbox")
    def receive(request):
        try:
            event = webhooks.verify(request.body, request.headers["CallingBox-Signature"], secret)
        except WebhookVerificationError:
            return Response(status=400)
        if event.type == "call.completed":
            save(event.data.object.result)
        return Response(status=204)

Only the standard library and pydantic are used here, like the rest of the SDK.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Union

from ._constants import EVENT_ID_HEADER, SIGNATURE_HEADER, WEBHOOK_SECRET_ENV, WEBHOOK_TOLERANCE
from ._exceptions import WebhookVerificationError
from ._signature import verify_header

if TYPE_CHECKING:
    from .types.event import Event

__all__ = ["verify", "WebhookVerificationError", "SIGNATURE_HEADER", "EVENT_ID_HEADER"]

Body = Union[bytes, bytearray, str]


def _header(header: Union[str, Mapping[str, str], None]) -> str | None:
    """The signature header, given either as its value or as the request's headers."""
    if header is None or isinstance(header, str):
        return header
    wanted = SIGNATURE_HEADER.lower()
    return next((value for name, value in header.items() if name.lower() == wanted), None)


def verify(
    body: Body,
    header: Union[str, Mapping[str, str], None],
    secret: Union[str, Sequence[str], None] = None,
    tolerance: int = WEBHOOK_TOLERANCE,
) -> Event:
    """Check a delivery's signature and return its typed event.

    Args:
        body: The request body exactly as received (bytes; a ``str`` is encoded as UTF-8).
            Parsing and re-serialising the JSON first changes the bytes and fails verification.
        header: The ``CallingBox-Signature`` value, or the request's whole header mapping.
        secret: The endpoint's ``whsec_…`` secret (or a list, while you roll your own secret
            over). Defaults to the ``CALLINGBOX_WEBHOOK_SECRET`` environment variable.
        tolerance: Seconds the signed timestamp may be away from now; older deliveries are
            refused as replays.

    Returns:
        The :class:`~callingbox.types.Event`; ``event.data.object`` is the call.

    Raises:
        WebhookVerificationError: the header is missing or malformed, no signature matches (a
            tampered body or the wrong secret), the timestamp is outside ``tolerance``, or the
            verified body is not an event.
    """
    secrets = secret if secret is not None else os.environ.get(WEBHOOK_SECRET_ENV)
    if not secrets:
        raise WebhookVerificationError(
            f"no webhook secret: pass secret= or set the {WEBHOOK_SECRET_ENV} environment variable"
        )
    raw = bytes(body) if isinstance(body, bytearray) else body
    verify_header(raw, _header(header), secrets, tolerance=tolerance)
    try:
        payload = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None
    from pydantic import ValidationError

    from .types.event import Event

    try:
        return Event.model_validate(payload)
    except ValidationError as exc:
        raise WebhookVerificationError(f"the signed body is not an event: {exc}") from exc
