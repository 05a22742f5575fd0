"""Phone numbers, their inbound routing and their filter rules (seeds 001, 004)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ._base import RequestModel, ResponseModel
from .shared import E164

__all__ = [
    "PhoneNumber",
    "AvailablePhoneNumber",
    "Capabilities",
    "NumberCreateParams",
    "NumberImport",
    "NumberUpdateParams",
    "NumberRule",
    "RuleCreateParams",
    "RuleUpdateParams",
    "InboundMode",
    "FilterMode",
]

Carrier = Literal["twilio", "local"]
InboundMode = Literal["agent", "webhook", "reject"]
FilterMode = Literal["blacklist", "whitelist"]
NumberStatus = Literal["active", "released"]
RuleAction = Literal["allow", "block"]
RuleStatus = Literal["active", "paused", "deleted"]


class Capabilities(ResponseModel):
    """What the carrier lets the number do."""

    voice: bool = True
    sms: bool = False


class PhoneNumber(ResponseModel):
    """A number owned by the workspace. ``inbound_agent_id`` is derived from attachments."""

    id: str
    object: Literal["phone_number"] = "phone_number"
    number: str
    carrier: Carrier
    carrier_sid: Optional[str] = None
    capabilities: Capabilities = Field(default_factory=Capabilities)
    inbound_agent_id: Optional[str] = None
    inbound_mode: InboundMode = "agent"
    incoming_call_webhook_url: Optional[str] = None
    filter_mode: FilterMode = "blacklist"
    status: NumberStatus = "active"
    created: int


class AvailablePhoneNumber(ResponseModel):
    """A number the carrier offers for sale (``GET /v1/numbers/available``); buy it with ``POST /v1/numbers``."""

    object: Literal["available_phone_number"] = "available_phone_number"
    number: str
    locality: Optional[str] = None
    region: Optional[str] = None
    country: str
    capabilities: Capabilities = Field(default_factory=Capabilities)


class NumberImport(RequestModel):
    """A number the account already owns at the carrier."""

    number: E164
    carrier_sid: str = Field(min_length=1, max_length=64)


class NumberCreateParams(RequestModel):
    """Body of ``POST /v1/numbers``: exactly one of ``number`` (buy) or ``import`` (adopt)."""

    number: Optional[E164] = None
    import_: Optional[NumberImport] = Field(default=None, alias="import")

    @model_validator(mode="after")
    def _exactly_one(self) -> "NumberCreateParams":
        if (self.number is None) == (self.import_ is None):
            raise PydanticCustomError(
                "field_rule", "send exactly one of number (buy) or import (adopt)", {"param": "number"}
            )
        return self


class NumberUpdateParams(RequestModel):
    """Body of ``PATCH /v1/numbers/{id}``."""

    inbound_mode: Optional[InboundMode] = None
    incoming_call_webhook_url: Optional[str] = Field(default=None, max_length=2_048)
    filter_mode: Optional[FilterMode] = None


class NumberRule(ResponseModel):
    """A filter rule: ``block`` counts in blacklist mode, ``allow`` in whitelist mode."""

    id: str
    object: Literal["number_rule"] = "number_rule"
    number_id: str
    exact_number: str
    action: RuleAction
    status: RuleStatus = "active"
    created: int
    updated: int


class RuleCreateParams(RequestModel):
    """Body of ``POST /v1/numbers/{id}/rules``."""

    exact_number: E164
    action: RuleAction
    status: Literal["active", "paused"] = "active"


class RuleUpdateParams(RequestModel):
    """Body of ``PATCH /v1/numbers/{id}/rules/{rule_id}``."""

    action: Optional[RuleAction] = None
    status: Optional[Literal["active", "paused"]] = None
