"""The embedded AWS emulation: a moto server on loopback, provisioned from the shared definitions."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from ..core import resources

__all__ = ["EmulatedAws", "start_emulated_aws", "provision", "LOCAL_CREDENTIALS", "free_port"]

# moto accepts any credentials; fixed ones keep botocore from searching the machine for real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class EmulatedAws:
    """A running moto server and the resources created in it."""

    endpoint_url: str
    queue_urls: dict[str, str] = field(default_factory=dict)
    server: Any = None

    def environment(self) -> dict[str, str]:
        """The variables that point :class:`~callingbox.core.settings.Settings` at this emulation."""
        env = dict(LOCAL_CREDENTIALS)
        env["CALLINGBOX_AWS_ENDPOINT_URL"] = self.endpoint_url
        env["CALLINGBOX_TABLE"] = resources.TABLE_NAME
        env["CALLINGBOX_EVENT_BUS"] = resources.EVENT_BUS_NAME
        for name, url in self.queue_urls.items():
            env[f"CALLINGBOX_{name.upper()}_QUEUE_URL"] = url
        return env

    def stop(self) -> None:
        """Stop the moto server."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def _client(service: str, endpoint_url: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=LOCAL_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def provision(endpoint_url: str) -> dict[str, str]:
    """Create the table, queues (with dead-letter queues), event bus and bucket; return queue URLs."""
    dynamodb = _client("dynamodb", endpoint_url)
    existing = dynamodb.list_tables()["TableNames"]
    if resources.TABLE_NAME not in existing:
        dynamodb.create_table(**resources.table_definition())
        dynamodb.update_time_to_live(
            TableName=resources.TABLE_NAME,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": resources.TTL_ATTRIBUTE},
        )
    sqs = _client("sqs", endpoint_url)
    urls: dict[str, str] = {}
    for name, spec in resources.QUEUES.items():
        dlq_url = sqs.create_queue(QueueName=spec.dlq_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        urls[name] = sqs.create_queue(
            QueueName=spec.name,
            Attributes={
                "VisibilityTimeout": str(spec.visibility_timeout_s),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}),
            },
        )["QueueUrl"]
    events = _client("events", endpoint_url)
    buses = [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]
    if resources.EVENT_BUS_NAME not in buses:
        events.create_event_bus(Name=resources.EVENT_BUS_NAME)
    s3 = _client("s3", endpoint_url)
    if resources.RECORDINGS_BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=resources.RECORDINGS_BUCKET)
    return urls


# Writes, plus the reads that walk many items: moto's index query sorts the index's items by their
# key attributes, and a write removing an item's sparse-index attribute meanwhile makes that sort
# fail with a KeyError (a 500), where real DynamoDB would answer.
_DYNAMODB_SERIALIZED = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "Query", "Scan"}
)


class _AtomicWrites:
    """WSGI wrapper that runs DynamoDB writes (and queries and scans) one at a time.

    Real DynamoDB evaluates a condition and applies the write atomically; moto checks and then
    writes in Python with no lock, so two threads could both pass the same condition. Holding a
    lock around each write restores the service's guarantee, which the attach race and the
    idempotency tests depend on. Queries and scans take the lock too: moto iterates the items
    while other threads write them (see :data:`_DYNAMODB_SERIALIZED`).
    """

    def __init__(self, app: Any) -> None:
        import threading

        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_") and target.split(".", 1)[-1] in _DYNAMODB_SERIALIZED:
            with self._lock:
                # Consume the whole response inside the lock: the work happens while iterating.
                return list(self._app(environ, start_response))
        return self._app(environ, start_response)


# Worker threads of the emulation's HTTP server. Every queue poller holds one for its long poll
# (up to a second), the rest serve requests; idle ones cost nothing. Idle connections stay open an
# hour (a client reusing one the server has just dropped pays a retry with backoff).
SERVER_THREADS = 32


class _MotoServer:
    """moto's WSGI app, with atomic DynamoDB writes, served by waitress on a thread.

    waitress keeps HTTP/1.1 connections open and serves them from a fixed pool of threads; moto's
    own development server (werkzeug) closes every connection, so each emulated AWS request paid
    for a new connection on both sides and a new server thread.
    """

    def __init__(self, host: str, port: int) -> None:
        import logging
        import threading

        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from waitress.server import create_server

        # waitress warns whenever a request waits for a free thread: routine under load here.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        app = _AtomicWrites(DomainDispatcherApplication(create_backend_app))
        self._server = create_server(app, host=host, port=port, threads=SERVER_THREADS, connection_limit=2000,
                                     asyncore_use_poll=True, channel_timeout=3600, ident="moto")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="moto", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from waitress import wasyncore

        server = self._server
        # waitress's own run() loops until its socket map is empty; this loop also stops on request,
        # and then closes everything from this thread (closing the sockets from another thread
        # races the poll, and task threads still signal the loop's trigger until they end).
        while not self._stopping.is_set():
            wasyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=server._map, use_poll=True, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)

    def stop(self) -> None:
        self._stopping.set()
        self._server.pull_trigger()  # wake the poll
        self._thread.join(timeout=10)


def start_emulated_aws(host: str = "127.0.0.1", port: int | None = None) -> EmulatedAws:
    """Start moto in server mode on loopback and provision every resource in it."""
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    chosen = port or free_port(host)
    server = _MotoServer(host, chosen)
    endpoint = f"http://{host}:{chosen}"
    return EmulatedAws(endpoint_url=endpoint, queue_urls=provision(endpoint), server=server)
