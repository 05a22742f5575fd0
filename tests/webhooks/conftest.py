"""Fixtures of the webhook tests: loopback receivers and a worker driven by a small poll loop."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

from tests.webhooks.receiver import Receiver, Responses, start_receiver


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(responses: Responses = 200, *, delay_s: float = 0.0) -> Receiver:
        receiver = start_receiver(responses, delay_s=delay_s)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@dataclass
class WorkerDriver:
    """Feeds the webhooks queue's messages of some workspaces to the Lambda handler, as the event
    source mapping would (SQS-shaped events, partial batch failures), until a condition holds.

    Messages of other workspaces (other tests' calls) are left on the queue untouched.
    """

    stack: Any
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    sqs: Any
    url: str
    arn: str
    batches: list[dict[str, Any]]

    def run_until(self, workspace_ids: set[str], done: Callable[[], bool], *, timeout: float = 30.0) -> None:
        from callingbox.local.webhook_worker import sqs_event

        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("the webhook worker did not get there in time")
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                                VisibilityTimeout=30, AttributeNames=["All"]).get("Messages", [])
            mine = [m for m in messages if json.loads(m["Body"]).get("workspace_id") in workspace_ids]
            if not mine:
                continue
            result = self.handler(sqs_event(mine, queue_arn=self.arn, region="us-east-1"), None)
            self.batches.append(result)
            failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
            for message in mine:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"],
                                                       VisibilityTimeout=0)
                else:
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def install_worker(local_stack: Any) -> Iterator[Callable[..., Any]]:
    """Install a delivery worker with a backoff scale (and other overrides) in the Lambda handler."""
    from callingbox.core.delivery import DeliveryWorker
    from callingbox.core.settings import Settings
    from callingbox.local.webhook_worker import load_webhooks_handler

    load_webhooks_handler()
    from workers import webhooks  # type: ignore[import-not-found]

    def install(scale: float = 1.0, **overrides: Any) -> Any:
        settings = Settings.from_env({**os.environ, "CALLINGBOX_WEBHOOK_BACKOFF_SCALE": str(scale)})
        worker = DeliveryWorker.from_settings(settings, **overrides)
        webhooks.install(worker)
        return worker

    install()
    yield install
    webhooks.install(None)


@pytest.fixture
def driver(local_stack: Any, install_worker: Any) -> WorkerDriver:
    import boto3

    from callingbox.local.webhook_worker import load_webhooks_handler

    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    url = local_stack.aws.queue_urls["webhooks"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return WorkerDriver(local_stack, load_webhooks_handler(), sqs, url, arn, [])


@pytest.fixture
def outbound_agent(api: Any) -> dict[str, Any]:
    response = api.post("/v1/agents", json={
        "name": "Reminders", "type": "outbound", "instructions": "Confirm the appointment.",
        "returns": {"confirmed": "boolean"}, "number_ids": ["pn_abc123"], "primary_number_id": "pn_abc123",
    })
    assert response.status_code == 200, response.text
    return response.json()
