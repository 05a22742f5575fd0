"""The environment the deployed code reads its settings from.

The variable names are those of :meth:`callingbox.core.settings.Settings.from_env` and
:meth:`streaming_fargate.settings.GatewaySettings.from_env` (``tests/infra`` checks that every
variable set here is one those factories read, or one listed in :data:`LAMBDA_ONLY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from .config import DeployConfig
from .metrics import NAMESPACE, service_name

__all__ = ["RuntimeResources", "core_environment", "lambda_environment", "gateway_environment",
           "queue_url_variable", "LAMBDA_ONLY", "SIGNING_SECRET_ARN", "GATEWAY_PORT", "GATEWAY_DRAIN_SECONDS",
           "STREAM_PATH"]

GATEWAY_PORT = 8080
# Fargate kills a task at most 120 s after SIGTERM (the stop timeout's ceiling): drain for less.
GATEWAY_DRAIN_SECONDS = 110
STREAM_PATH = "/stream"

# Names the stream-token key's secret (``Settings.signing_secret_arn``): the functions that sign
# stream tokens read it on first use; the gateway gets the value itself as an ECS secret
# (``CALLINGBOX_STREAM_TOKEN_SECRET``).
SIGNING_SECRET_ARN = "CALLINGBOX_SIGNING_SECRET_ARN"
LAMBDA_ONLY = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")
"""Variables set on the Lambda functions that the settings factories do not read (Powertools does)."""


def queue_url_variable(name: str) -> str:
    """The variable holding the URL of ``resources.QUEUES[name]`` (as ``Settings.from_env`` reads it)."""
    return f"CALLINGBOX_{name.upper()}_QUEUE_URL"


@dataclass(frozen=True)
class RuntimeResources:
    """The deployed names the code needs (CDK tokens until deploy time)."""

    table_name: str
    queue_urls: Mapping[str, str]
    event_bus_name: str
    recordings_bucket: str
    twilio_secret_arn: str
    gateway_url: str
    public_api_url: Optional[str]


def core_environment(config: DeployConfig, names: RuntimeResources) -> dict[str, str]:
    """What every component reads through ``Settings.from_env``."""
    environment = {
        "CALLINGBOX_TABLE": names.table_name,
        **{queue_url_variable(name): url for name, url in names.queue_urls.items()},
        "CALLINGBOX_EVENT_BUS": names.event_bus_name,
        "CALLINGBOX_RECORDINGS_BUCKET": names.recordings_bucket,
        "CALLINGBOX_CARRIER": "twilio",
        "CALLINGBOX_TWILIO_SECRET_ARN": names.twilio_secret_arn,
        "CALLINGBOX_GATEWAY_URL": names.gateway_url,
        "CALLINGBOX_DEFAULT_VOICE": config.default_voice,
        "CALLINGBOX_DEFAULT_LLM_MODEL": config.default_llm_model,
        "CALLINGBOX_DEFAULT_STT_MODEL": config.default_stt_model,
        "CALLINGBOX_DEFAULT_TTS_MODEL": config.default_tts_model,
        "CALLINGBOX_DIAL_CPS": str(config.dial_cps),
        "CALLINGBOX_MAX_CONCURRENT_CALLS": str(config.max_concurrent_calls),
    }
    if names.public_api_url is not None:
        environment["CALLINGBOX_PUBLIC_API_URL"] = names.public_api_url
    return environment


def lambda_environment(config: DeployConfig, names: RuntimeResources, *, component: str,
                       signing_secret_arn: Optional[str] = None) -> dict[str, str]:
    """A Lambda function's environment: the core settings, Powertools, and the stream-token key's
    secret ARN for a function that signs stream tokens (``None``: one that does not)."""
    environment = {
        **core_environment(config, names),
        "POWERTOOLS_SERVICE_NAME": service_name(component),
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    }
    if signing_secret_arn is not None:
        environment[SIGNING_SECRET_ARN] = signing_secret_arn
    return environment


def gateway_environment(config: DeployConfig, names: RuntimeResources) -> dict[str, str]:
    """The voice gateway's plain environment (its keys arrive as ECS secrets, not here)."""
    return {
        **core_environment(config, names),
        "CALLINGBOX_GATEWAY_HOST": "0.0.0.0",
        "CALLINGBOX_GATEWAY_PORT": str(GATEWAY_PORT),
        "CALLINGBOX_GATEWAY_DRAIN_SECONDS": str(GATEWAY_DRAIN_SECONDS),
    }
