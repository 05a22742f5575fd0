"""Twilio's webhook signatures (``X-Twilio-Signature``) and the public URLs they are computed over.

Twilio signs the exact URL it requested (scheme, host, path and query) plus the form fields of a
POST. Behind API Gateway the Lambda sees neither the public host nor the stage as Twilio did, so
the URL is rebuilt from the deployment's configured public base URL, never from request headers
(which a caller controls).
"""

from __future__ import annotations

from typing import Iterator, Mapping, Optional, Sequence, Union

from ..errors import ServiceUnavailable
from ..settings import Settings

__all__ = ["public_url", "is_valid_twilio_request", "FormParams"]

# One form field may repeat (e.g. ``StatusCallbackEvent``): such a field maps to a list.
FormParams = Mapping[str, Union[str, Sequence[str]]]


def public_url(settings: Settings, path: str, query: str = "") -> str:
    """``settings.public_api_url`` + ``path`` (+ ``?query``): the URL the carrier calls and signs.

    Raises :class:`ServiceUnavailable` (``public_url_not_configured``) when the deployment has no
    public URL (``CALLINGBOX_PUBLIC_API_URL``): the carrier could not reach it anyway.
    """
    base = settings.public_api_url.rstrip("/")
    if not base:
        raise ServiceUnavailable("this deployment has no public API URL for the carrier to call; set "
                                 "CALLINGBOX_PUBLIC_API_URL", code="public_url_not_configured")
    url = base + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


class _MultiValues(Mapping[str, str]):
    """Form fields as ``RequestValidator`` reads repeated keys (Django's ``getlist`` protocol)."""

    def __init__(self, params: FormParams) -> None:
        self._values = {name: [value] if isinstance(value, str) else [str(item) for item in value]
                        for name, value in params.items()}

    def getlist(self, name: str) -> list[str]:
        return self._values[name]

    def __getitem__(self, name: str) -> str:
        return self._values[name][-1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def is_valid_twilio_request(auth_token: str, url: str, params: FormParams, signature: Optional[str]) -> bool:
    """Whether ``signature`` is Twilio's signature of ``url`` and the form ``params`` under ``auth_token``.

    Uses the SDK's ``RequestValidator`` (HMAC-SHA1 over the URL followed by every field name and
    value in sorted order, base64; compared in constant time; the URL is tried with and without
    its default port, as Twilio signs either). A missing signature or token is never valid.
    """
    if not signature or not auth_token:
        return False
    from twilio.request_validator import RequestValidator

    return bool(RequestValidator(auth_token).validate(url, _MultiValues(params), signature))
