"""CallingBox: the Python SDK of a self-hosted voice-AI calling platform.

    from callingbox import Callingbox

    client = Callingbox()  # reads CALLINGBOX_API_KEY and CALLINGBOX_BASE_URL
    agent = client.agents.create(name="Front desk", type="inbound", number_ids=["pn_xyz789"])
    for call in client.calls.iter_calls(agent_id=agent.id):
        print(call.id, call.status, call.result)

Webhook deliveries are verified with ``callingbox.webhooks.verify(body, header, secret)``.

Every name below is imported on first use, so ``import callingbox`` stays cheap; the response
models live in :mod:`callingbox.types`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import AsyncCallingbox, Callingbox
    from ._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
    from ._exceptions import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        CallingboxError,
        ConflictError,
        IdempotencyError,
        InternalServerError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        UnprocessableEntityError,
        WebhookVerificationError,
    )
    from ._types import NOT_GIVEN, NotGiven, RequestOptions
    from .pagination import AsyncCursorPage, SyncCursorPage

__all__ = [
    # clients
    "Callingbox",
    "AsyncCallingbox",
    # errors
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
    # arguments and options
    "NOT_GIVEN",
    "NotGiven",
    "RequestOptions",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    # pagination
    "SyncCursorPage",
    "AsyncCursorPage",
]

# Where each exported name lives; resolved by ``__getattr__`` on first access.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "._client": ("Callingbox", "AsyncCallingbox"),
    "._exceptions": (
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
    ),
    "._types": ("NOT_GIVEN", "NotGiven", "RequestOptions"),
    "._constants": ("DEFAULT_TIMEOUT", "DEFAULT_MAX_RETRIES"),
    ".pagination": ("SyncCursorPage", "AsyncCursorPage"),
}
_LOCATION = {name: module for module, names in _EXPORTS.items() for name in names}
# Submodules reachable as attributes (``callingbox.webhooks.verify``) without importing them up front.
_SUBMODULES = frozenset({"webhooks"})


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("callingbox")
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    module = _LOCATION.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
