"""Every error the SDK raises.

Exception tree::

    CallingboxError                  root; also raised for a missing API key
    ├── WebhookVerificationError     a webhook's CallingBox-Signature did not verify
    └── APIError                     something went wrong talking to the API
        ├── APIStatusError           the API answered 4xx/5xx
        │   ├── BadRequestError              400
        │   ├── AuthenticationError          401
        │   ├── PermissionDeniedError        403
        │   ├── NotFoundError                404
        │   ├── ConflictError                409
        │   │   └── IdempotencyError         409 with an ``idempotency…`` code
        │   ├── UnprocessableEntityError     422
        │   ├── RateLimitError               429
        │   └── InternalServerError          >= 500
        ├── APIConnectionError       no answer: DNS, refused, reset, TLS
        │   └── APITimeoutError      no answer within the timeout
        └── APIResponseValidationError  a 2xx whose body is not the expected shape

:func:`make_status_error` is the one place that maps a status code and an error body to a class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CallingboxError",
    "APIError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "IdempotencyError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "APIConnectionError",
    "APITimeoutError",
    "APIResponseValidationError",
    "WebhookVerificationError",
    "make_status_error",
]


class CallingboxError(Exception):
    """Root of every error raised by the SDK."""


class WebhookVerificationError(CallingboxError):
    """A webhook delivery failed verification: missing or malformed ``CallingBox-Signature``, no
    signature made with your secret (tampered body, wrong secret), or a timestamp outside the
    tolerance (a replay). Answer such a request with 400 and do not act on it."""


class APIError(CallingboxError):
    """A request to the API failed; ``request`` is the last ``httpx.Request`` sent, if any."""

    message: str
    request: httpx.Request | None
    body: Any

    def __init__(self, message: str, *, request: httpx.Request | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status.

    Attributes mirror the error body ``{"error": {"type", "code", "message", "param", "request_id"}}``;
    ``request_id`` comes from the ``Request-Id`` header, else from the body. ``str(error)`` starts with
    the request id so a traceback leads straight to the server logs.
    """

    status_code: int
    request_id: str | None
    type: str | None
    code: str | None
    param: str | None
    response: httpx.Response | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message, request=_request_of(response), body=body)
        self.status_code = status_code
        self.request_id = request_id
        self.type = type
        self.code = code
        self.param = param
        self.response = response

    def __str__(self) -> str:
        prefix = f"[{self.request_id}] " if self.request_id else ""
        code = f" {self.code}" if self.code else ""
        param = f" (param: {self.param})" if self.param else ""
        return f"{prefix}{self.status_code}{code}{param}: {self.message}"


class BadRequestError(APIStatusError):
    """400: the request was malformed or broke a rule (see ``param``)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or unknown."""


class PermissionDeniedError(APIStatusError):
    """403: the API key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such resource in this workspace."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (for example a number answered by another agent)."""


class IdempotencyError(ConflictError):
    """409: the ``Idempotency-Key`` was already used with a different request body."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically, honouring ``Retry-After``."""


class InternalServerError(APIStatusError):
    """5xx: the server failed; retried automatically."""


class APIConnectionError(APIError):
    """The API could not be reached, or the connection broke before an answer."""

    def __init__(self, message: str = "Connection error.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""

    def __init__(self, message: str = "Request timed out.", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APIResponseValidationError(APIError):
    """A successful response whose body is not valid JSON or not the documented shape."""


_STATUS_CLASSES: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def make_status_error(
    status_code: int,
    body: Any,
    *,
    request_id: str | None = None,
    response: httpx.Response | None = None,
) -> APIStatusError:
    """Build the :class:`APIStatusError` subclass for ``status_code`` and the parsed error ``body``.

    ``body`` is the decoded JSON (or text) of the response; the ``error`` object is read when
    present. ``request_id`` (from the ``Request-Id`` header) wins over the one in the body.
    """
    detail: Mapping[str, Any] = {}
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        detail = body["error"]
    message = _as_str(detail.get("message")) or (body if isinstance(body, str) and body else None)
    code = _as_str(detail.get("code"))
    cls = _status_class(status_code, code)
    return cls(
        message or f"HTTP {status_code}",
        status_code=status_code,
        request_id=request_id or _as_str(detail.get("request_id")),
        type=_as_str(detail.get("type")),
        code=code,
        param=_as_str(detail.get("param")),
        body=body,
        response=response,
    )


def _status_class(status_code: int, code: str | None) -> type[APIStatusError]:
    if status_code == 409 and code is not None and code.startswith("idempotency"):
        return IdempotencyError
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def _request_of(response: httpx.Response | None) -> httpx.Request | None:
    if response is None:
        return None
    try:
        return response.request
    except RuntimeError:  # a Response built by hand has no request
        return None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
