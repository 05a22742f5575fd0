"""Runs a worker Lambda handler against a local queue, the way Lambda's SQS event source does.

:class:`QueueWorker` long-polls the queue, hands each batch to the handler as a real-shaped SQS
event (``Records`` with ``messageId``, ``receiptHandle``, ``body``, ``attributes.ApproximateReceiveCount``,
…), deletes the records the handler did not report in ``batchItemFailures`` and leaves the others
to reappear, after a short visibility timeout, like Lambda's partial batch response.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..core.observability import get_logger

__all__ = ["QueueWorker", "LocalContext", "sqs_event"]

Handler = Callable[[dict[str, Any], Any], Any]
WAIT_SECONDS = 1  # long-poll wait: short, so that stop() returns quickly
BATCH_SIZE = 10
RETRY_VISIBILITY_S = 2  # a failed record comes back this soon locally (Lambda: the queue's timeout)


class LocalContext:
    """Stands in for Lambda's context object: the function name and the time left before the
    invocation's deadline (the queue's visibility timeout), which Powertools idempotency reads."""

    memory_limit_in_mb = 512
    aws_request_id = "local"

    def __init__(self, name: str, timeout_s: float) -> None:
        import time

        self.function_name = f"callingbox-{name}"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until this invocation's deadline."""
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda event for ``ReceiveMessage``'s ``messages``."""
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for message in messages]}


@dataclass
class QueueWorker:
    """Polls ``queue_url`` and feeds ``handler`` until :meth:`stop`. Use :meth:`poll_once` in tests."""

    sqs: Any
    queue_url: str
    handler: Handler
    region: str = "us-east-1"
    name: str = "worker"
    timeout_s: float = 60.0  # the invocation deadline the handler is told about (the queue's visibility)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: Optional[threading.Thread] = field(default=None, init=False)
    _arn: Optional[str] = field(default=None, init=False)

    def _queue_arn(self) -> str:
        if self._arn is None:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._arn = str(attributes["Attributes"]["QueueArn"])
        return self._arn

    def poll_once(self, *, wait_seconds: int = WAIT_SECONDS) -> int:
        """Receive one batch, run the handler on it, settle each record; the number received."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH_SIZE,
                                            WaitTimeSeconds=wait_seconds, AttributeNames=["All"],
                                            MessageAttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            return 0
        try:
            event = sqs_event(messages, queue_arn=self._queue_arn(), region=self.region)
            response = self.handler(event, LocalContext(self.name, self.timeout_s)) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:
            get_logger(self.name).exception("worker handler failed; the whole batch will be retried")
            failed = {message["MessageId"] for message in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                                   VisibilityTimeout=RETRY_VISIBILITY_S)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def start(self) -> "QueueWorker":
        """Poll in a daemon thread."""
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception:
                    get_logger(self.name).exception("polling failed")
                    self._stop.wait(1)

        self._thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling (returns within about one long-poll wait)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=WAIT_SECONDS + 10)
