"""The local SQS poller: Lambda-shaped events, deletion of what succeeded, redelivery of what failed."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response


def test_failed_records_come_back_after_the_visibility_timeout(local_stack: Any) -> None:
    import boto3

    from callingbox.local.workers import start_queue_worker

    # GIVEN a queue with a 1 s visibility timeout and a Powertools handler that fails "bad" the first time
    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"test-worker-{uuid.uuid4().hex[:12]}",
                           Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def record_handler(record: Any) -> None:
        body = json.loads(record.body)
        seen.append({"body": body, "receive_count": int(record.attributes.approximate_receive_count),
                     "source": record.event_source, "arn": record.event_source_arn,
                     "attribute": record.message_attributes["kind"].string_value})
        if body["name"] == "bad" and int(record.attributes.approximate_receive_count) == 1:
            raise RuntimeError("first attempt fails")
        if body["name"] == "bad":
            done.set()

    def handler(event: dict, context: Any) -> dict:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)

    for name in ("good", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"name": name}),
                         MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}})
    # WHEN the local worker polls it
    worker = start_queue_worker(url, handler, endpoint_url=local_stack.aws.endpoint_url, region="us-east-1",
                                name="test", wait_s=1)
    try:
        assert done.wait(20)
    finally:
        worker.stop()
    # THEN "good" was handled once and deleted; "bad" came back once, counted as a second receive
    assert [s["receive_count"] for s in seen if s["body"]["name"] == "good"] == [1]
    assert [s["receive_count"] for s in seen if s["body"]["name"] == "bad"] == [1, 2]
    assert {s["source"] for s in seen} == {"aws:sqs"} and all(s["arn"].endswith(url.rsplit("/", 1)[1]) for s in seen)
    assert {s["attribute"] for s in seen} == {"test"}
    # AND nothing is left on the queue
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0" and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    sqs.delete_queue(QueueUrl=url)
