"""Account-wide webhook endpoints and the workspace's signing secret (API.md, webhooks)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field

from ._base import RequestModel, ResponseModel
from .event import EVENT_TYPES
from .shared import Metadata

__all__ = [
    "WebhookEndpoint",
    "WebhookEndpointCreateParams",
    "WebhookEndpointUpdateParams",
    "WebhookSecret",
    "MAX_URL",
]

MAX_URL = 2_048
_ALL = "*"


def _check_events(value: list[str]) -> list[str]:
    unknown = [item for item in value if item != _ALL and item not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; use '*' or any of {', '.join(EVENT_TYPES)}")
    if _ALL in value and len(value) > 1:
        raise ValueError("'*' already means every event; list it alone")
    return list(dict.fromkeys(value))  # duplicates dropped, order kept


EventFilter = Annotated[list[str], Field(min_length=1, max_length=len(EVENT_TYPES)), AfterValidator(_check_events)]
"""Event types an endpoint receives: ``["*"]`` for all, else a list of :data:`EVENT_TYPES`."""


class WebhookEndpoint(ResponseModel):
    """Where events are POSTed, signed with the endpoint's secret.

    ``secret`` is present only in the responses that create the endpoint or rotate its secret:
    store it then. After a rotation the previous secret still signs deliveries (a second ``v1``
    value) until ``previous_secret_expires_at``.
    """

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    events: list[str]
    enabled: bool = True
    description: Optional[str] = None
    metadata: dict[str, str] = Field(default_factory=dict)
    secret: Optional[str] = None
    previous_secret_expires_at: Optional[int] = None
    created: int
    updated: int


class WebhookEndpointCreateParams(RequestModel):
    """Body of ``POST /v1/webhook_endpoints``."""

    url: str = Field(max_length=MAX_URL)
    events: EventFilter = Field(default_factory=lambda: [_ALL])
    enabled: bool = True
    description: Optional[str] = Field(default=None, max_length=500)
    metadata: Metadata = Field(default_factory=dict)


class WebhookEndpointUpdateParams(RequestModel):
    """Body of ``PATCH /v1/webhook_endpoints/{id}``: sent fields replace stored ones.

    ``rotate_secret: true`` issues a new secret (returned once, in this response); the old one
    keeps signing beside it for 24 hours so receivers can switch without missing a delivery.
    """

    url: Optional[str] = Field(default=None, max_length=MAX_URL)
    events: Optional[EventFilter] = None
    enabled: Optional[bool] = None
    description: Optional[str] = Field(default=None, max_length=500)
    metadata: Optional[Metadata] = None
    rotate_secret: bool = False


class WebhookSecret(ResponseModel):
    """The workspace's secret for deliveries to agents' and calls' ``webhook_url``.

    Endpoints have secrets of their own; this one signs what goes to a ``webhook_url``.
    """

    object: Literal["webhook_secret"] = "webhook_secret"
    secret: str
    previous_secret_expires_at: Optional[int] = None
    created: int
