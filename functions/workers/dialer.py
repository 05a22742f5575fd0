"""The dialer Lambda: SQS dial jobs -> :class:`callingbox.core.dialing.Dialer`, with partial batch failures.

Each record is one ``{"workspace_id", "call_id"}`` job. A record whose handling raises (a retryable
carrier error, a malformed job, a store outage) is reported in ``batchItemFailures`` and comes back
after the queue's visibility timeout; the others are deleted. Put-back jobs (pacing, concurrency)
are successes: the dialer itself sends their delayed copy.

Examples:
    # Lambda: handler "workers.dialer.handler", event source the dial queue, ReportBatchItemFailures on
    # Local: callingbox.local.workers.start_queue_worker(dial_queue_url, handler, ...)
    # Tests: install(build_dialer(settings, carrier=FakeCarrier()))
"""

from __future__ import annotations

from typing import Any, Optional

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from callingbox.core.carrier.base import Carrier
from callingbox.core.dialing import Dialer, DialJob, DialLimits, DialResult, DynamoSlotStore, Pacer
from callingbox.core.observability import get_logger
from callingbox.core.per_process import PerProcess
from callingbox.core.settings import Settings

__all__ = ["handler", "record_handler", "build_dialer", "install", "BATCH_WAIT_BUDGET_S"]

# Pacing waits of one batch together stay well inside the dial queue's 60 s visibility timeout.
BATCH_WAIT_BUDGET_S = 30.0



def _carrier(settings: Settings) -> Carrier:
    from callingbox.core.carrier.credentials import carrier_from_settings  # type: ignore[import-not-found]

    return carrier_from_settings(settings)


def build_dialer(settings: Settings, *, carrier: Optional[Carrier] = None) -> Dialer:
    """A dialer for ``settings``: the bound store, the dial queue for put-backs, the shared pacer.

    ``carrier`` replaces the one built from the settings (tests, the local stack).
    """
    from callingbox.core.queues import JobQueues
    from callingbox.core.store.binding import bind_store

    bind_store(settings)
    queues = JobQueues(settings)
    limits = DialLimits(cps=settings.dial_cps, max_concurrent_calls=settings.max_concurrent_calls,
                        ring_timeout_s=settings.ring_timeout_seconds)

    def requeue(job: DialJob, delay_s: int) -> None:
        queues.send("dial", job.body(), delay_seconds=delay_s)

    return Dialer(settings=settings, carrier=carrier if carrier is not None else (lambda: _carrier(settings)),
                  requeue=requeue, pacer=Pacer(DynamoSlotStore(), cps=limits.cps, max_wait_s=limits.max_pace_wait_s),
                  limits=limits)


_dialer: PerProcess[Dialer] = PerProcess(lambda: build_dialer(Settings.from_env()))


def install(dialer: Optional[Dialer]) -> None:
    """Use ``dialer`` for the next batches (``None``: build one from the environment on next use)."""
    _dialer.install(dialer)


def _current() -> Dialer:
    return _dialer.get()


def record_handler(record: SQSRecord) -> str:
    """Dial one job; returns the outcome (``dialed``, ``skipped``, ``deferred``, ``failed``, ``recovered``)."""
    logger = get_logger("dialer")
    logger.set_correlation_id(record.message_id)
    job = DialJob.from_body(record.body)
    logger.append_keys(call_id=job.call_id, workspace_id=job.workspace_id)
    try:
        result: DialResult = _current().dial(job)
    finally:
        logger.remove_keys(["call_id", "workspace_id"])
    return result.outcome.value


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}``."""
    # A fresh processor per batch: handler() may run on several threads in the local stack.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    _current().reset_wait_budget(BATCH_WAIT_BUDGET_S)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
