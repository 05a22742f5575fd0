"""Local stand-in for Lambda's SQS event source: poll a queue, hand Lambda-shaped batches to a
worker handler, delete what succeeded.

What Lambda does, done the same way here, so the worker handlers run unchanged:

* receive up to ``batch_size`` messages (long poll of ``wait_s``), with their attributes;
* build the event Lambda would: ``{"Records": [{"messageId", "receiptHandle", "body",
  "attributes" (ApproximateReceiveCount, SentTimestamp, …), "messageAttributes", "md5OfBody",
  "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}``;
* call ``handler(event, context)``; its ``batchItemFailures`` (ReportBatchItemFailures) stay on
  the queue and come back after the visibility timeout, the rest is deleted. A handler that
  raises fails the whole batch, as on Lambda.

Examples:
    worker = start_queue_worker(env["CALLINGBOX_DIAL_QUEUE_URL"], dialer.handler,
                                endpoint_url=aws.endpoint_url, region="us-east-1", name="dialer")
    ...
    worker.stop()
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["QueueWorker", "start_queue_worker", "lambda_event", "LocalContext", "load_handler"]

Handler = Callable[[dict[str, Any], Any], Any]
# How long stop() waits for the poll in flight and the batch being handled.
STOP_TIMEOUT_S = 30.0
# After a receive error (emulation restarting), wait this long before polling again.
ERROR_BACKOFF_S = 1.0

_log = logging.getLogger("callingbox.local.workers")


@dataclass
class LocalContext:
    """The few Lambda context attributes handlers and Powertools read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:local"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's budget; the local worker has no deadline."""
        return 900_000


def lambda_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The SQS event Lambda builds from ``ReceiveMessage`` results."""
    records = []
    for message in messages:
        records.append({
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": value.get("BinaryListValues", []),
                    "dataType": value.get("DataType"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


class QueueWorker:
    """A polling thread feeding one queue to one handler; :meth:`stop` (or calling it) ends it."""

    def __init__(self, sqs: Any, queue_url: str, handler: Handler, *, region: str, name: str, batch_size: int,
                 wait_s: int) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._region = region
        self.name = name
        self._batch_size = max(1, min(10, batch_size))
        self._wait_s = max(0, min(20, wait_s))
        self._stopped = threading.Event()
        self.batches = 0
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._queue_arn = str(arn)
        self._thread = threading.Thread(target=self._run, name=f"worker-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=self._batch_size, WaitTimeSeconds=self._wait_s,
                    AttributeNames=["All"], MessageAttributeNames=["All"])
            except Exception as error:  # noqa: BLE001 - keep polling; the emulation may be restarting
                if self._stopped.is_set():
                    return
                _log.warning("%s: receive failed: %r", self.name, error)
                self._stopped.wait(ERROR_BACKOFF_S)
                continue
            messages = received.get("Messages") or []
            if messages:
                self._handle(messages)

    def _handle(self, messages: list[dict[str, Any]]) -> None:
        event = lambda_event(messages, queue_arn=self._queue_arn, region=self._region)
        context = LocalContext(function_name=self.name, aws_request_id=str(uuid.uuid4()))
        try:
            response = self._handler(event, context)
        except Exception:  # noqa: BLE001 - as on Lambda: the whole batch comes back after the timeout
            _log.exception("%s: handler failed; the batch will be redelivered", self.name)
            return
        finally:
            self.batches += 1
        failed = {item.get("itemIdentifier") for item in ((response or {}).get("batchItemFailures") or [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            try:
                self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(chunk)])
            except Exception as error:  # noqa: BLE001 - undeleted messages come back; handlers are idempotent
                _log.warning("%s: delete failed: %r", self.name, error)

    def stop(self) -> None:
        """Stop polling and wait for the batch in hand to finish."""
        self._stopped.set()
        self._thread.join(timeout=STOP_TIMEOUT_S)

    __call__ = stop

    @property
    def running(self) -> bool:
        """True while the polling thread lives."""
        return self._thread.is_alive()


def start_queue_worker(queue_url: str, handler: Handler, *, endpoint_url: Optional[str], region: str, name: str,
                       batch_size: int = 10, wait_s: int = 1) -> QueueWorker:
    """Start polling ``queue_url`` for ``handler`` in a daemon thread; returns the worker (``worker.stop()``).

    Start several on one queue for parallel workers (as Lambda scales out).
    """
    from ..core.aws_clients import create_client

    sqs = create_client("sqs", region_name=region, endpoint_url=endpoint_url)
    return QueueWorker(sqs, queue_url, handler, region=region, name=name, batch_size=batch_size, wait_s=wait_s)


def load_handler(module: str) -> Handler:
    """``handler`` of ``functions/workers/<module>.py``, as Lambda loads it (``functions/`` on ``sys.path``)."""
    import importlib
    import sys

    from .stack import project_root

    functions = str(project_root() / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    return importlib.import_module(f"workers.{module}").handler  # type: ignore[no-any-return]
