"""Small SDK-wide types: the ``NOT_GIVEN`` sentinel and per-request options.

``NOT_GIVEN`` tells "leave this alone" apart from ``None`` ("set this to null"): an
argument left at ``NOT_GIVEN`` is not sent at all, while ``None`` is sent as JSON ``null``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypedDict, Union

if TYPE_CHECKING:
    import httpx

__all__ = ["NotGiven", "NOT_GIVEN", "RequestOptions", "Timeout", "strip_not_given", "pick_given"]


class NotGiven:
    """The type of :data:`NOT_GIVEN`, the default of every optional API argument.

    It is falsy, so ``if value:`` reads naturally, and it has a single instance.
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final[NotGiven] = NotGiven()
"""Default of optional arguments: the field is left out of the request."""

Timeout = Union[float, "httpx.Timeout", None]
"""Seconds (or an ``httpx.Timeout``) per HTTP attempt; ``None`` waits forever."""


class RequestOptions(TypedDict, total=False):
    """Per-request options accepted as keyword arguments by every API method.

    Each key overrides the client's setting for one call only; leave a key out to keep
    the client's value.
    """

    extra_headers: Mapping[str, str]
    """Headers merged over the client's default headers (the request wins)."""
    timeout: Timeout
    """Seconds per HTTP attempt for this call."""
    max_retries: int
    """Retries for this call; ``0`` disables retrying."""
    idempotency_key: str
    """Your own ``Idempotency-Key`` for a POST, PATCH or DELETE (one is generated otherwise)."""


def strip_not_given(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` without the entries whose value is :data:`NOT_GIVEN`; ``None`` is kept."""
    return {key: value for key, value in values.items() if not isinstance(value, NotGiven)}


def pick_given(scope: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The entries of ``scope`` (a method's ``locals()``) named in ``names``, without the ``NOT_GIVEN`` ones."""
    return strip_not_given({name: scope[name] for name in names})
