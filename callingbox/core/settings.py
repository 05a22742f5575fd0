"""Deployment settings, read from the environment by an explicit factory (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

from . import resources

__all__ = ["Settings"]


def _flag(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything that differs between deployments; build with :meth:`from_env`."""

    region: str = "us-east-1"
    aws_endpoint_url: Optional[str] = None
    table_name: str = resources.TABLE_NAME
    queue_urls: Mapping[str, str] = field(default_factory=dict)
    event_bus_name: str = resources.EVENT_BUS_NAME
    recordings_bucket: str = resources.RECORDINGS_BUCKET
    carrier: str = "local"
    default_voice: str = "Joanna"
    default_llm_model: str = "builtin"
    default_stt_model: str = "local"
    default_tts_model: str = "local"
    # Local stack only: lets webhook and tool URLs be plain http on loopback.
    allow_insecure_urls: bool = False
    api_key_cache_seconds: float = 30.0
    # -- telephony (issue 4) ------------------------------------------------------------------
    # Twilio credentials: from the environment (local stack, where they are the local stand-in's)
    # or from a Secrets Manager secret {"account_sid", "auth_token"} named by twilio_secret_arn.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_secret_arn: str = ""
    # Where the Twilio SDK sends REST requests: empty for api.twilio.com, the local stand-in's
    # base URL in the local stack.
    twilio_api_base_url: str = ""
    # The API's public base URL as the carrier calls it (API Gateway stage URL or custom domain);
    # carrier webhook signatures are checked against this exact URL plus the path.
    public_api_url: str = ""
    # The voice gateway's public websocket URL (wss://… deployed, ws://127.0.0.1:… locally).
    gateway_url: str = ""
    # HMAC key of the stream tokens (shared by the dialer/webhooks that sign and the gateway).
    # Read it through callingbox.core.signing_keys.stream_token_key: the value itself (local
    # stack, tests, the gateway's ECS secret), else the Secrets Manager secret (a plain string)
    # named by signing_secret_arn (the deployed Lambda functions).
    stream_token_secret: str = ""
    signing_secret_arn: str = ""
    # Dialer pacing: account calls per second and live calls per workspace.
    dial_cps: float = 1.0
    max_concurrent_calls: int = 100
    # How long an outbound call rings before it is no_answer.
    ring_timeout_seconds: int = 30
    # -- webhooks (issue 5) -------------------------------------------------------------------
    # Multiplies every webhook retry delay and the 24 h retry window; below 1 only in tests and
    # benchmarks, so that a day of retries passes in seconds.
    webhook_backoff_scale: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read ``CALLINGBOX_*`` variables (and the usual AWS region variables)."""
        env = os.environ if environ is None else environ
        queue_urls = {
            name: env[f"CALLINGBOX_{name.upper()}_QUEUE_URL"]
            for name in resources.QUEUES
            if env.get(f"CALLINGBOX_{name.upper()}_QUEUE_URL")
        }
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_endpoint_url=env.get("CALLINGBOX_AWS_ENDPOINT_URL") or None,
            table_name=env.get("CALLINGBOX_TABLE", resources.TABLE_NAME),
            queue_urls=queue_urls,
            event_bus_name=env.get("CALLINGBOX_EVENT_BUS", resources.EVENT_BUS_NAME),
            recordings_bucket=env.get("CALLINGBOX_RECORDINGS_BUCKET") or resources.RECORDINGS_BUCKET,
            carrier=env.get("CALLINGBOX_CARRIER", "local"),
            default_voice=env.get("CALLINGBOX_DEFAULT_VOICE", "Joanna"),
            default_llm_model=env.get("CALLINGBOX_DEFAULT_LLM_MODEL", "builtin"),
            default_stt_model=env.get("CALLINGBOX_DEFAULT_STT_MODEL", "local"),
            default_tts_model=env.get("CALLINGBOX_DEFAULT_TTS_MODEL", "local"),
            allow_insecure_urls=_flag(env.get("CALLINGBOX_ALLOW_INSECURE_URLS")),
            api_key_cache_seconds=float(env.get("CALLINGBOX_API_KEY_CACHE_SECONDS", "30")),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_secret_arn=env.get("CALLINGBOX_TWILIO_SECRET_ARN", ""),
            twilio_api_base_url=env.get("CALLINGBOX_TWILIO_API_URL", ""),
            public_api_url=env.get("CALLINGBOX_PUBLIC_API_URL", "").rstrip("/"),
            gateway_url=env.get("CALLINGBOX_GATEWAY_URL", ""),
            stream_token_secret=env.get("CALLINGBOX_STREAM_TOKEN_SECRET", ""),
            signing_secret_arn=env.get("CALLINGBOX_SIGNING_SECRET_ARN", ""),
            dial_cps=float(env.get("CALLINGBOX_DIAL_CPS", "1")),
            max_concurrent_calls=int(env.get("CALLINGBOX_MAX_CONCURRENT_CALLS", "100")),
            ring_timeout_seconds=int(env.get("CALLINGBOX_RING_TIMEOUT_SECONDS", "30")),
            webhook_backoff_scale=float(env.get("CALLINGBOX_WEBHOOK_BACKOFF_SCALE", "1")),
        )
