"""The voice gateway's settings, read from the environment by an explicit factory (never at import).

The deployment-wide values (table, queues, region, default models, ``allow_insecure_urls``) come
from :class:`callingbox.core.settings.Settings`; this module adds what only the gateway needs.

==========================================  =============================================  =========
variable                                    meaning                                        default
==========================================  =============================================  =========
``CALLINGBOX_GATEWAY_HOST``                 address the websocket server binds             0.0.0.0
``CALLINGBOX_GATEWAY_PORT``                 its port                                       8080
``CALLINGBOX_GATEWAY_DRAIN_SECONDS``        on SIGTERM, how long live calls may go on      110
``CALLINGBOX_STREAM_TOKEN_SECRET``          HMAC key of the stream tokens (required)       —
``CALLINGBOX_TOOL_SIGNING_SECRET``          HMAC key of the in-call tool requests          (empty)
``CALLINGBOX_TOOL_TIMEOUT_SECONDS``         budget of one tool invocation                  5
``CALLINGBOX_ENDPOINTING_SILENCE_MS``       silence after a stable partial that ends a     250
                                            turn
``CALLINGBOX_EARLY_START``                  start the model on a stable partial, before    true
                                            the silence has passed (costs a model request
                                            each time the caller goes on talking)
``CALLINGBOX_SILENCE_REPROMPT_SECONDS``     nobody speaks this long: the agent re-prompts  8
``CALLINGBOX_SILENCE_MAX_REPROMPTS``        re-prompts before hanging up for silence       2
``CALLINGBOX_HEARTBEAT_SECONDS``            how often a live call reports to the sweeper   5
``CALLINGBOX_METRICS_INTERVAL_SECONDS``     how often the task publishes its live-call     30
                                            count (``ActiveCalls``: the autoscaling
                                            tracks it per minute); 0: never (local)
==========================================  =============================================  =========
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

from callingbox.core.settings import Settings

from .tools import TOOL_TIMEOUT_S

__all__ = ["GatewaySettings", "TurnTaking", "MissingSecret"]

# Fargate sends SIGKILL at most 120 s after SIGTERM (the task's stopTimeout ceiling); keep a margin
# for the final state writes of the calls still running when the drain ends.
DEFAULT_DRAIN_SECONDS = 110.0
# The sweeper's interval (callingbox.core.sweeper.HEARTBEAT_INTERVAL_S); one small write per call.
DEFAULT_HEARTBEAT_SECONDS = 5.0
# Twice per one-minute metric period, so that every period has a value from every task even when
# a publication is late (the autoscaling averages ActiveCalls over one minute).
DEFAULT_METRICS_INTERVAL_SECONDS = 30.0


class MissingSecret(ValueError):
    """A secret the gateway cannot run without is not set; the message names the variable."""


@dataclass(frozen=True)
class TurnTaking:
    """How the conversation decides whose turn it is (every window is configurable, none is magic).

    ``speech_rms`` is the energy floor of the voice-activity detector: a 20 ms frame of 16-bit PCM
    whose RMS (``audioop.rms``) reaches it counts as voiced. 400 is about -38 dBFS, above a phone
    line's comfort noise and below quiet speech.
    """

    endpoint_silence_ms: int = 250
    """Trailing silence after a *stable* hypothesis that ends the caller's turn."""
    unstable_silence_ms: int = 900
    """Trailing silence that ends the turn when the recogniser never marks its hypothesis stable."""
    reprompt_after_s: float = 8.0
    """Nobody has spoken for this long: the agent asks whether the caller is still there."""
    max_reprompts: int = 2
    """Re-prompts in a row before the agent says goodbye and hangs up (end_reason ``silence``)."""
    speech_rms: int = 400
    """Voice-activity floor (RMS of 16-bit PCM per 20 ms frame)."""
    early_start: bool = True
    """Start the model on a stable hypothesis, before the silence window has passed."""


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the voice gateway reads from its environment; build with :meth:`from_env`."""

    core: Settings = field(default_factory=Settings)
    host: str = "0.0.0.0"
    port: int = 8080
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    stream_token_secret: bytes = b""
    tool_signing_secret: bytes = b""
    tool_timeout_seconds: float = TOOL_TIMEOUT_S
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    metrics_interval_seconds: float = DEFAULT_METRICS_INTERVAL_SECONDS
    turn_taking: TurnTaking = field(default_factory=TurnTaking)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "GatewaySettings":
        """Read ``CALLINGBOX_*`` variables (see the module docstring).

        Raises :class:`MissingSecret` when ``CALLINGBOX_STREAM_TOKEN_SECRET`` is unset: without it
        no stream could be authenticated.
        """
        env = os.environ if environ is None else environ
        secret = env.get("CALLINGBOX_STREAM_TOKEN_SECRET", "")
        if not secret:
            raise MissingSecret("set CALLINGBOX_STREAM_TOKEN_SECRET (the key the dialer signs stream tokens with)")
        defaults = TurnTaking()
        return cls(
            core=Settings.from_env(env),
            host=env.get("CALLINGBOX_GATEWAY_HOST", "0.0.0.0"),
            port=int(env.get("CALLINGBOX_GATEWAY_PORT", "8080")),
            drain_seconds=float(env.get("CALLINGBOX_GATEWAY_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS)),
            stream_token_secret=secret.encode(),
            tool_signing_secret=env.get("CALLINGBOX_TOOL_SIGNING_SECRET", "").encode(),
            tool_timeout_seconds=float(env.get("CALLINGBOX_TOOL_TIMEOUT_SECONDS", TOOL_TIMEOUT_S)),
            heartbeat_seconds=float(env.get("CALLINGBOX_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS)),
            metrics_interval_seconds=float(env.get("CALLINGBOX_METRICS_INTERVAL_SECONDS",
                                                   DEFAULT_METRICS_INTERVAL_SECONDS)),
            turn_taking=TurnTaking(
                endpoint_silence_ms=int(env.get("CALLINGBOX_ENDPOINTING_SILENCE_MS", defaults.endpoint_silence_ms)),
                reprompt_after_s=float(env.get("CALLINGBOX_SILENCE_REPROMPT_SECONDS", defaults.reprompt_after_s)),
                max_reprompts=int(env.get("CALLINGBOX_SILENCE_MAX_REPROMPTS", defaults.max_reprompts)),
                early_start=env.get("CALLINGBOX_EARLY_START", "true").strip().lower() not in {"0", "false", "no", "off"},
            ),
        )
