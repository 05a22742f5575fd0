"""Putting jobs on the SQS queues (dial, extraction, webhooks)."""

from __future__ import annotations

import json
import threading
from typing import Any, Mapping, Optional

from .errors import ServiceUnavailable
from .settings import Settings

__all__ = ["JobQueues"]


class JobQueues:
    """Sends JSON jobs to the deployment's queues; the SQS client is built on first use.

    botocore is used directly (not boto3): the API already loads it for DynamoDB, and boto3 would
    add to every cold start for no gain.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Optional[Any] = None
        self._lock = threading.Lock()

    def _sqs(self) -> Any:
        with self._lock:
            if self._client is None:
                from .aws_clients import create_client

                self._client = create_client(
                    "sqs", region_name=self._settings.region, endpoint_url=self._settings.aws_endpoint_url,
                )
            return self._client

    def send(self, queue: str, body: Mapping[str, Any], *, delay_seconds: int = 0) -> str:
        """Enqueue ``body`` on ``queue`` and return the SQS message id."""
        url = self._settings.queue_urls.get(queue)
        if not url:
            raise ServiceUnavailable(f"the {queue} queue is not configured (CALLINGBOX_{queue.upper()}_QUEUE_URL)")
        response = self._sqs().send_message(QueueUrl=url, MessageBody=json.dumps(body), DelaySeconds=delay_seconds)
        return str(response["MessageId"])
