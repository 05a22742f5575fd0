"""Webhook delivery: fan-out of stored events and signed, retried, SSRF-checked POSTs.

Laid out like a Powertools utility: :mod:`.base` (the worker), :mod:`.types` (jobs and outcomes),
:mod:`.exceptions`, plus :mod:`.backoff` (the retry schedule) and :mod:`.sender` (one HTTP POST).
The Lambda handler is ``functions/workers/webhooks.py``; the local stack polls the same queue.
"""

from .base import DeliveryWorker, add_attempt_listener, redeliver
from .exceptions import AttemptInProgress, DeliveryError, DestinationRefused, InvalidJob
from .sender import post, resolve_target
from .types import AttemptReport, DeliveryJob, Destination, FanOutJob, HttpOutcome, ResolvedTarget, parse_job

__all__ = [
    "DeliveryWorker",
    "add_attempt_listener",
    "redeliver",
    "DeliveryError",
    "InvalidJob",
    "AttemptInProgress",
    "DestinationRefused",
    "resolve_target",
    "post",
    "AttemptReport",
    "DeliveryJob",
    "Destination",
    "FanOutJob",
    "HttpOutcome",
    "ResolvedTarget",
    "parse_job",
]
