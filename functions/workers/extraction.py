"""The extraction worker Lambda: SQS ``callingbox-extraction`` -> :class:`ExtractionWorker`.

Each record's body is ``{"workspace_id", "call_id"}`` (queued by the voice gateway when a call
ends), or ``{"workspace_id", "call_id", "job_id", "reason": "reextract"}`` (``POST
/v1/calls/{id}/extract``). Records go through Powertools' ``BatchProcessor`` and
``process_partial_response``: a record that raises is reported in ``batchItemFailures`` and only it
returns to the queue (the function's event source mapping needs ``ReportBatchItemFailures``).
Each job runs behind Powertools idempotency (see :mod:`callingbox.core.extraction.idempotency`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from callingbox.core.extraction.types import ExtractionJob
from callingbox.core.observability import get_logger
from callingbox.core.per_process import PerProcess
from callingbox.core.settings import Settings

__all__ = ["handler", "record_handler", "ExtractionRuntime", "current", "install"]


@dataclass
class ExtractionRuntime:
    """What a warm worker keeps between invocations: settings and the idempotent job runner."""

    settings: Settings
    run: Callable[[ExtractionJob], dict[str, Any]]
    idempotency_config: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, *, worker: Any = None, persistence: Any = None) -> "ExtractionRuntime":
        """Bind the store and build the worker (``worker`` and ``persistence`` replace the defaults)."""
        from callingbox.core.extraction.idempotency import idempotency_config, idempotent, persistence_layer
        from callingbox.core.extraction.worker import ExtractionWorker
        from callingbox.core.store.binding import bind_store

        bind_store(settings)
        worker = worker or ExtractionWorker(settings)
        config = idempotency_config()
        run = idempotent(worker.process, persistence=persistence or persistence_layer(settings), config=config)
        return cls(settings=settings, run=run, idempotency_config=config)


_runtime: PerProcess[ExtractionRuntime] = PerProcess(lambda: ExtractionRuntime.from_settings(Settings.from_env()))


def current() -> ExtractionRuntime:
    """The installed runtime, built from the environment on first use."""
    return _runtime.get()


def install(runtime: Optional[ExtractionRuntime]) -> None:
    """Replace the runtime (``None``: rebuild from the environment on next use)."""
    _runtime.install(runtime)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    """One job. Raises (so the record is retried) on a malformed body or an unavailable model."""
    receive_count = int(record.attributes.approximate_receive_count or 1)
    job = ExtractionJob.from_body(record.json_body, receive_count=receive_count)
    outcome = current().run(job)
    get_logger("extraction").info("extraction job done", extra={"call_id": job.call_id, **outcome})
    return outcome


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; returns ``{"batchItemFailures": [...]}``."""
    runtime = current()
    if context is not None and hasattr(context, "get_remaining_time_in_millis") and runtime.idempotency_config:
        # Lets Powertools expire an in-progress record when this invocation times out.
        runtime.idempotency_config.register_lambda_context(context)
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
