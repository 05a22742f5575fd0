"""The CloudWatch metrics the deployment reads: the contract between the code that publishes them
and the autoscaling, dashboard and alarms that use them.

Everything the platform publishes goes to the ``CallingBox`` namespace
(:data:`callingbox.core.observability.NAMESPACE`) through Powertools Metrics (CloudWatch embedded
metric format in the logs), with the dimension ``service`` = ``callingbox-<component>``. The names
come from :mod:`callingbox.core.observability`, where the publishing code takes them too.
"""

from __future__ import annotations

from callingbox.core.observability import ACTIVE_CALLS_METRIC, CALL_STATUS_METRIC, NAMESPACE, service_name

__all__ = [
    "NAMESPACE",
    "GATEWAY_SERVICE",
    "ACTIVE_CALLS",
    "TURN_LATENCY_METRICS",
    "CALL_STATUS_METRIC",
    "service_name",
]


GATEWAY_SERVICE = service_name("gateway")

ACTIVE_CALLS = ACTIVE_CALLS_METRIC
"""Live calls on one gateway task (a gauge, ``Count``), published by every task at least once a
minute with the dimension ``service`` only: the ``Average`` across tasks is the calls per task the
autoscaling tracks."""

TURN_LATENCY_METRICS = ("end_of_speech_ms", "llm_first_token_ms", "tts_first_byte_ms", "first_audio_ms")
"""Per-turn latencies the gateway publishes (``streaming_fargate/conversation.py``)."""

# CALL_STATUS_METRIC: one Count per call status change (the store's status writes), dimensions
# service and status; the dashboard graphs it by status across every service that publishes it.
