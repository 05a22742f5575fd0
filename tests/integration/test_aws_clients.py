"""One botocore session per process: the store's clients and the queues' share its loaded models."""

from __future__ import annotations

import threading
from typing import Any


def _description(client: Any) -> Any:
    return client._service_model._service_description  # the loader's cached JSON: one per session


def test_every_item_class_uses_a_client_built_from_the_shared_session(local_stack: Any) -> None:
    from callingbox.core.aws_clients import create_client, shared_session
    from callingbox.core.store.items import ALL_ITEMS

    # GIVEN the store bound by the local stack
    # THEN every item class already holds its client, and all of them share one service model
    clients = [item._get_connection().connection._client for item in ALL_ITEMS]
    assert all(client is not None for client in clients)
    ours = create_client("dynamodb", region_name="us-east-1", endpoint_url=local_stack.aws.endpoint_url)
    assert {id(_description(client)) for client in clients} == {id(_description(ours))}
    # AND that model is the shared session's own, not a fresh load
    assert _description(ours) is shared_session().get_service_data("dynamodb")


def test_clients_built_on_many_threads_at_once_all_work(local_stack: Any) -> None:
    from callingbox.core.aws_clients import create_client

    # GIVEN eight threads building SQS clients from the shared session at the same moment
    start = threading.Barrier(8)
    answers: list[Any] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            start.wait(5)
            sqs = create_client("sqs", region_name="us-east-1", endpoint_url=local_stack.aws.endpoint_url)
            answers.append(sqs.list_queues().get("QueueUrls", []))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # THEN every one was built and answered
    assert errors == [] and len(answers) == 8
    assert all(any("callingbox-dial" in url for url in urls) for urls in answers)


def test_boto3_and_botocore_clients_of_every_kind_build_side_by_side(local_stack: Any) -> None:
    from callingbox.core.aws_clients import create_boto3_client, create_client

    endpoint = {"region_name": "us-east-1", "endpoint_url": local_stack.aws.endpoint_url}
    # GIVEN boto3 clients built over the shared session more than once (each wraps it in boto3)
    for _ in range(2):
        create_boto3_client("dynamodb", **endpoint)
        create_boto3_client("s3", **endpoint)
    # WHEN S3 clients are built from it again, plain and boto3
    plain, wrapped = create_client("s3", **endpoint), create_boto3_client("s3", **endpoint)
    # THEN both work (boto3's S3 methods were injected once, not once per wrapper)
    assert plain.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert callable(wrapped.upload_file)
