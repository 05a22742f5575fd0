"""Webhook delivery worker (SQS -> Lambda): fan-out and delivery jobs from the ``webhooks`` queue.

A thin adapter: Powertools' ``BatchProcessor`` runs each record through
:class:`callingbox.core.delivery.DeliveryWorker` and reports only the records that raised in
``batchItemFailures``, so SQS retries those alone (the event source mapping must enable
``ReportBatchItemFailures``). Keep the batch size small (≤ 5): deliveries run one after another
and each may take the full 10 s timeout.

A record that is not a webhooks job is logged and dropped, never retried.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from callingbox.core.delivery import DeliveryWorker, InvalidJob
from callingbox.core.observability import get_logger
from callingbox.core.per_process import PerProcess
from callingbox.core.settings import Settings

__all__ = ["handler", "record_handler", "install", "worker"]

logger = get_logger("webhooks")

_worker: PerProcess[DeliveryWorker] = PerProcess(lambda: DeliveryWorker.from_settings(Settings.from_env()))


def worker() -> DeliveryWorker:
    """The worker of this process, built from the environment on first use."""
    return _worker.get()


def install(replacement: Optional[DeliveryWorker]) -> None:
    """Replace the worker (tests, the local stack); ``None`` rebuilds it from the environment."""
    _worker.install(replacement)


def record_handler(record: SQSRecord) -> None:
    """Run one job; raising sends this record (only) back to the queue."""
    try:
        body = json.loads(record.body)
    except ValueError:
        logger.error("webhooks message is not JSON; dropped", extra={"message_id": record.message_id})
        return
    try:
        worker().run(body)
    except InvalidJob as error:
        logger.error("not a webhooks job; dropped", extra={"message_id": record.message_id, "error": str(error)})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: ``{"batchItemFailures": [{"itemIdentifier": <message id>}, …]}``."""
    if context is not None and getattr(context, "aws_request_id", None):
        logger.set_correlation_id(context.aws_request_id)
    # One processor per invocation: the local stack may call the handler from several threads.
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
