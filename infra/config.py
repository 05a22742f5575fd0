"""What differs between deployments: the CDK context, validated once at the edge of the app.

Every value can come from ``cdk.json`` (``"context"``) or the command line
(``cdk deploy -c domain_name=calls.example.com -c certificate_arn=arn:aws:acm:…``). Values given on
the command line arrive as strings, so lists also accept a comma-separated string.

=========================  ==========================================================  ======================
key                        meaning                                                     default
=========================  ==========================================================  ======================
``region``                 AWS region to deploy into                                   the CLI's region
``account``                AWS account id                                              the CLI's account
``bedrock_model_ids``      Bedrock model (or inference-profile) ids the gateway and    ``amazon.nova-lite-v1:0``
                           extraction may invoke; the first is the default model
``default_voice``          Polly voice of agents that name none                        ``Joanna``
``default_stt_model``      speech-to-text engine of agents that name none              ``transcribe``
``default_tts_model``      text-to-speech engine of agents that name none              ``polly``
``domain_name``            base domain: the API at ``api.<domain>``, the gateway at    none
                           ``voice.<domain>`` (both need ``certificate_arn``)
``certificate_arn``        regional ACM certificate covering both names               none
``dial_cps``               account-wide calls per second the dialer starts             ``1``
``max_concurrent_calls``   live calls per workspace                                    ``100``
``retention_days``         recordings' lifetime and the event archive's retention      ``90``
``log_retention_days``     CloudWatch Logs retention of every log group                ``30``
``gateway_min_tasks``      voice gateway tasks always running                          ``1``
``gateway_max_tasks``      ceiling of the gateway's autoscaling                        ``10``
``gateway_calls_per_task`` live calls per task the autoscaling aims for                ``20``
``alarm_email``            address subscribed to the alarm topic                       none
=========================  ==========================================================  ======================
"""

from __future__ import annotations

import json
from typing import Any, Optional

from constructs import Construct
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DeployConfig", "CONTEXT_KEYS"]

# Bedrock's cross-region inference profiles prefix the model id with a geography.
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


class DeployConfig(BaseModel):
    """The deployment's settings, read from the CDK context by :meth:`from_context`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: Optional[str] = None
    account: Optional[str] = None
    bedrock_model_ids: tuple[str, ...] = Field(default=("amazon.nova-lite-v1:0",), min_length=1)
    default_voice: str = Field(default="Joanna", min_length=1)
    default_stt_model: str = Field(default="transcribe", min_length=1)
    default_tts_model: str = Field(default="polly", min_length=1)
    domain_name: Optional[str] = None
    certificate_arn: Optional[str] = None
    dial_cps: float = Field(default=1.0, gt=0, le=100)
    max_concurrent_calls: int = Field(default=100, ge=1)
    retention_days: int = Field(default=90, ge=1)
    log_retention_days: int = Field(default=30, ge=1)
    gateway_min_tasks: int = Field(default=1, ge=1)
    gateway_max_tasks: int = Field(default=10, ge=1)
    gateway_calls_per_task: int = Field(default=20, ge=1)
    alarm_email: Optional[str] = None

    @field_validator("bedrock_model_ids", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """``-c bedrock_model_ids=a,b`` arrives as a string; a JSON list string is accepted too."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("domain_name", "certificate_arn", "alarm_email", "region", "account", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check(self) -> "DeployConfig":
        if (self.domain_name is None) != (self.certificate_arn is None):
            raise ValueError("domain_name and certificate_arn go together: give both or neither")
        if self.certificate_arn is not None and not self.certificate_arn.startswith("arn:"):
            raise ValueError("certificate_arn must be an ACM certificate ARN")
        if self.gateway_max_tasks < self.gateway_min_tasks:
            raise ValueError("gateway_max_tasks must be at least gateway_min_tasks")
        return self

    @property
    def default_llm_model(self) -> str:
        """The deployment's default ``llm_model`` (the gateway and extraction route it to Bedrock)."""
        return f"bedrock:{self.bedrock_model_ids[0]}"

    @property
    def api_domain(self) -> Optional[str]:
        """The API's custom domain, when a domain is configured."""
        return f"api.{self.domain_name}" if self.domain_name else None

    @property
    def gateway_domain(self) -> Optional[str]:
        """The voice gateway's custom domain, when a domain is configured."""
        return f"voice.{self.domain_name}" if self.domain_name else None

    @classmethod
    def from_context(cls, scope: Construct) -> "DeployConfig":
        """Read every known key from ``scope``'s CDK context (unset keys keep their defaults)."""
        given = {key: scope.node.try_get_context(key) for key in CONTEXT_KEYS}
        return cls.model_validate({key: value for key, value in given.items() if value is not None})


CONTEXT_KEYS: tuple[str, ...] = tuple(DeployConfig.model_fields)
"""The context keys the app reads (one per :class:`DeployConfig` field)."""


def is_inference_profile(model_id: str) -> bool:
    """Whether ``model_id`` names a cross-region inference profile rather than a foundation model."""
    return model_id.startswith(INFERENCE_PROFILE_PREFIXES)
