"""The dialer Lambda: SQS dial jobs -> :class:`callingbox.core.dialing.Dialer`, with partial batch failures.

Each record is one ``{"workspace_id", "call_id"}`` job. The batch's jobs are first read, claimed,
counted and paced together (:meth:`Dialer.prepare`), then handled side by side, one thread each
(Powertools' async batch processor over a thread pool): the prelude hands them consecutive pacing
slots, and one after another the later jobs would fall behind theirs. A record whose handling
raises (a retryable carrier error, a malformed job, a store outage) is reported in
``batchItemFailures`` and comes back after the queue's visibility timeout; the others are deleted.
Put-back jobs (pacing, concurrency) are successes: the dialer itself sends their delayed copy.

A batch ends by its latest slot, at most the pacer's ``max_pace_wait_s`` (20 s) away, plus one
carrier request: well inside the dial queue's 60 s visibility timeout.

Examples:
    # Lambda: handler "workers.dialer.handler", event source the dial queue, ReportBatchItemFailures on
    # Local: callingbox.local.workers.start_queue_worker(dial_queue_url, handler, ...)
    # Tests: install(build_dialer(settings, carrier=FakeCarrier()))
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from callingbox.core.carrier.base import Carrier
from callingbox.core.dialing import DialBatch, Dialer, DialJob, DialLimits, DialResult, DynamoSlotStore, Pacer
from callingbox.core.dialing.exceptions import InvalidDialJob
from callingbox.core.observability import get_logger
from callingbox.core.per_process import PerProcess
from callingbox.core.settings import Settings

__all__ = ["handler", "record_handler", "build_dialer", "install"]


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


def record_handler(record: SQSRecord, batch: Optional[DialBatch] = None) -> str:
    """Dial one job; returns the outcome (``dialed``, ``skipped``, ``deferred``, ``failed``, ``recovered``).

    ``batch``: the prelude of the record's batch (see :meth:`Dialer.prepare`)."""
    logger = get_logger("dialer")
    # Thread-safe keys: the jobs of a batch run on threads of their own.
    logger.thread_safe_append_keys(correlation_id=record.message_id)
    try:
        job = DialJob.from_body(record.body)
        logger.thread_safe_append_keys(call_id=job.call_id, workspace_id=job.workspace_id)
        result: DialResult = _current().dial(job, batch)
    finally:
        logger.thread_safe_remove_keys(["correlation_id", "call_id", "workspace_id"])
    return result.outcome.value


def _jobs(event: dict[str, Any]) -> list[DialJob]:
    jobs = []
    for record in event.get("Records") or []:
        try:
            jobs.append(DialJob.from_body(record.get("body") or ""))
        except InvalidDialJob:
            continue  # its own handler reports it
    return jobs


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}``."""
    # A fresh processor per batch: handler() may run on several threads in the local stack.
    processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    batch = _current().prepare(_jobs(event))
    records = len(event.get("Records") or [])
    with ThreadPoolExecutor(max_workers=max(1, records), thread_name_prefix="dial") as pool:

        async def handle(record: SQSRecord) -> str:
            return await asyncio.get_running_loop().run_in_executor(pool, record_handler, record, batch)

        return async_process_partial_response(event=event, record_handler=handle, processor=processor,
                                              context=context)
