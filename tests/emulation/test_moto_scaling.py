"""The benchmarks' moto patches (benchmarks/moto_scaling.py) change only moto's costs, never its
answers: the same requests give the same results with and without them.

Each comparison runs in a child interpreter: ``mock_aws`` resets moto's backends, which in this
process also hold the session's local stack (its moto server runs in a thread here).
"""

from __future__ import annotations

from typing import Any, Callable

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

REGION = "us-east-1"


def _table(client: Any) -> None:
    client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "LIVE")],
        GlobalSecondaryIndexes=[{"IndexName": "live", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "LIVE", "KeyType": "HASH"},
                                               {"AttributeName": "SK", "KeyType": "RANGE"}]}])
    for partition in ("ws#a", "ws#b"):
        for n in range(12):
            item = {"PK": {"S": partition}, "SK": {"S": f"call#{n:03d}"}}
            if n % 3 == 0:  # a sparse index: only some items carry its key
                item["LIVE"] = {"S": "live"}
            client.put_item(TableName="t", Item=item)


def _index_after_writes(client: Any) -> list[Any]:
    """The sparse index as every kind of write changes it (the patch keeps its own copy of the index)."""
    def live() -> list[Any]:
        response = client.query(TableName="t", IndexName="live", KeyConditionExpression="LIVE = :l",
                                ExpressionAttributeValues={":l": {"S": "live"}})
        return [(i["PK"]["S"], i["SK"]["S"]) for i in response["Items"]]

    def key(partition: str, n: int) -> dict[str, Any]:
        return {"PK": {"S": partition}, "SK": {"S": f"call#{n:03d}"}}

    seen = [live()]
    client.update_item(TableName="t", Key=key("ws#a", 0), UpdateExpression="REMOVE LIVE")  # leaves
    client.update_item(TableName="t", Key=key("ws#a", 1), UpdateExpression="SET LIVE = :l",  # joins
                       ExpressionAttributeValues={":l": {"S": "live"}})
    client.put_item(TableName="t", Item={**key("ws#c", 1), "LIVE": {"S": "live"}})  # a new item
    client.put_item(TableName="t", Item=key("ws#b", 3))  # replaced without the attribute
    client.delete_item(TableName="t", Key=key("ws#b", 6))
    seen.append(live())
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": "t", "Item": {**key("ws#c", 2), "LIVE": {"S": "live"}}}},
        {"Update": {"TableName": "t", "Key": key("ws#b", 9), "UpdateExpression": "REMOVE LIVE"}}])
    seen.append(live())
    try:  # rolled back: its first two writes must not show
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {**key("ws#c", 3), "LIVE": {"S": "live"}}}},
            {"Update": {"TableName": "t", "Key": key("ws#a", 3), "UpdateExpression": "REMOVE LIVE"}},
            {"Put": {"TableName": "t", "Item": key("ws#a", 1), "ConditionExpression": "attribute_not_exists(PK)"}}])
    except client.exceptions.TransactionCanceledException:
        pass
    seen.append(live())
    client.batch_write_item(RequestItems={"t": [
        {"PutRequest": {"Item": {**key("ws#d", 1), "LIVE": {"S": "live"}}}},
        {"DeleteRequest": {"Key": key("ws#a", 6)}}]})
    seen.append(live())
    return seen


def _dynamodb_answers(client: Any) -> list[Any]:
    keys = lambda response: [(i["PK"]["S"], i["SK"]["S"]) for i in response["Items"]]  # noqa: E731
    return [
        keys(client.query(TableName="t", KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "ws#a"}})),
        keys(client.query(TableName="t", KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
                          ExpressionAttributeValues={":p": {"S": "ws#b"}, ":s": {"S": "call#01"}},
                          ScanIndexForward=False)),
        keys(client.query(TableName="t", IndexName="live", KeyConditionExpression="LIVE = :l",
                          ExpressionAttributeValues={":l": {"S": "live"}})),
        client.query(TableName="t", IndexName="live", KeyConditionExpression="LIVE = :l", Select="COUNT",
                     FilterExpression="PK = :p", ExpressionAttributeValues={":l": {"S": "live"}, ":p": {"S": "ws#a"}}
                     )["Count"],
    ]


def _sqs_answers(client: Any) -> list[Any]:
    standard = client.create_queue(QueueName="standard")["QueueUrl"]
    fifo = client.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true",
                                                                "ContentBasedDeduplication": "true"})["QueueUrl"]
    for n in range(3):
        client.send_message(QueueUrl=standard, MessageBody=f"m{n}")
        # content-based deduplication still applies on the FIFO queue: the repeat is dropped
        client.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    received = client.receive_message(QueueUrl=standard, MaxNumberOfMessages=10)["Messages"]
    deduplicated = client.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    attributes = client.get_queue_attributes(QueueUrl=standard, AttributeNames=["All"])["Attributes"]
    return [sorted(m["Body"] for m in received), [m["Body"] for m in deduplicated],
            attributes["ApproximateNumberOfMessagesNotVisible"]]


def _answers(patched: bool, scenario: Callable[[Any], list[Any]], service: str) -> list[Any]:
    import boto3
    from moto import mock_aws

    from benchmarks import moto_scaling

    with mock_aws():
        client = boto3.client(service.split("_")[0], region_name=REGION)
        if service.startswith("dynamodb"):
            _table(client)
        if not patched:
            return scenario(client)
        with moto_scaling.installed():
            return scenario(client)


SCENARIOS = {"dynamodb": _dynamodb_answers, "dynamodb_index": _index_after_writes, "sqs": _sqs_answers}


def _in_child(code: str) -> Any:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("service", sorted(SCENARIOS))
def test_the_patched_emulation_answers_as_moto_does(service: str) -> None:
    plain, patched = _in_child(
        "import json; from tests.emulation.test_moto_scaling import SCENARIOS, _answers; "
        f"print(json.dumps([_answers(p, SCENARIOS[{service!r}], {service!r}) for p in (False, True)]))")
    assert plain == patched
    assert plain and all(answer not in (None, [], 0) for answer in plain)  # the scenario produced answers


def test_the_patches_are_undone_when_the_block_ends() -> None:
    assert _in_child(
        "import json\n"
        "from moto.dynamodb.models.table import Table\n"
        "from moto.sqs.models import Queue, SQSBackend\n"
        "from benchmarks import moto_scaling\n"
        "from moto.dynamodb.models import DynamoDBBackend\n"
        "now = lambda: (Table.query, SQSBackend.send_message, Queue.attributes, DynamoDBBackend.update_item)\n"
        "before = now()\n"
        "with moto_scaling.installed():\n"
        "    during = now()\n"
        "print(json.dumps([during != before, now() == before]))") == [True, True]
