"""The webhook delivery worker in the local stack: a thread that long-polls the emulated
``webhooks`` queue and hands each batch, shaped exactly like Lambda's SQS event, to the same
handler the deployment runs (``functions/workers/webhooks.py``).

As with Lambda's event source mapping, a message is deleted unless the handler lists it in
``batchItemFailures``; a failed one reappears after the queue's visibility timeout.

Examples:
    worker = start_webhook_worker(settings)
    ...
    worker.stop()
"""

from __future__ import annotations

import hashlib
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..core.settings import Settings

__all__ = ["LocalQueueWorker", "start_webhook_worker", "sqs_event", "load_webhooks_handler"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# Messages per handler call; small, as in the deployment (deliveries run one after another).
BATCH_SIZE = 5
# Long-poll wait: also how long stop() may take.
WAIT_S = 1


def load_webhooks_handler() -> Handler:
    """``handler`` of ``functions/workers/webhooks.py`` (``functions/`` is put on ``sys.path``)."""
    from .stack import project_root

    functions = str(project_root() / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    from workers.webhooks import handler  # type: ignore[import-not-found]

    return handler  # type: ignore[no-any-return]


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for messages as ``ReceiveMessage`` returns them."""
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for message in messages]}


@dataclass
class LocalQueueWorker:
    """A running poller; :meth:`stop` ends it."""

    thread: threading.Thread
    stopped: threading.Event

    def stop(self) -> None:
        """Stop polling and wait for the batch in hand to finish."""
        self.stopped.set()
        self.thread.join(timeout=30)


def _sqs(settings: Settings) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client("sqs", region_name=settings.region,
                                                        endpoint_url=settings.aws_endpoint_url)


def _poll(settings: Settings, handler: Handler, stopped: threading.Event) -> None:
    from ..core.observability import get_logger

    logger = get_logger("webhooks")
    sqs = _sqs(settings)
    url = settings.queue_urls["webhooks"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while not stopped.is_set():
        try:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH_SIZE, WaitTimeSeconds=WAIT_S,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                continue
            result = handler(sqs_event(messages, queue_arn=arn, region=settings.region), None)
            failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:
            if stopped.is_set():
                return
            logger.exception("local webhooks poller: batch failed")
            stopped.wait(1.0)


def start_webhook_worker(settings: Optional[Settings] = None, *, handler: Optional[Handler] = None
                         ) -> LocalQueueWorker:
    """Start polling the webhooks queue in a daemon thread.

    Args:
        settings: The local stack's settings (default: from the environment). The handler's
            worker is installed with them.
        handler: The Lambda handler to feed (default: ``functions/workers/webhooks.py``'s).
    """
    settings = settings or Settings.from_env()
    if handler is None:
        handler = load_webhooks_handler()
        from workers import webhooks  # type: ignore[import-not-found]

        from ..core.delivery import DeliveryWorker

        webhooks.install(DeliveryWorker.from_settings(settings))
    stopped = threading.Event()
    thread = threading.Thread(target=_poll, args=(settings, handler, stopped), name="webhooks-worker", daemon=True)
    thread.start()
    return LocalQueueWorker(thread, stopped)
