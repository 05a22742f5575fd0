"""Warm API latency: ``POST /v1/calls`` and ``GET /v1/calls?limit=100`` in process, against raw AWS calls.

Setup: the embedded AWS emulation (moto on loopback), the API's runtime installed for it, a
workspace with the docs' sample numbers, an outbound agent made through the API, and
:data:`CALLS_IN_TABLE` calls in the workspace (written straight to the table in the exact item
shape ``insert_call`` writes, copied from a call made through the API).

Requests go through ``chalice.test.Client`` (the Chalice app invoked with an API Gateway event,
as Lambda does). The baseline is the DynamoDB and SQS calls a request cannot avoid, made with a
plain boto3 client on the same endpoint and interleaved with the requests, so both see the same
emulator. ``overhead = request p50 - baseline p50`` is what our code adds on top of AWS.

- create: PutItem idempotency claim (conditional), GetItem agent and GetItem number (consistent),
  PutItem call (``attribute_not_exists``), SQS SendMessage dial job, UpdateItem idempotency record.
  The API key lookup is cached after the first request (for ``api_key_cache_seconds``), so the
  baseline leaves it out.
- list: one Query of ``limit + 2`` items newest first on the workspace partition.

The emulator is slow and noisy (a GetItem takes ~6 ms, a Query over 10,000 calls ~200 ms), so
every sample also records how long this thread waited on AWS round trips (botocore's HTTP
``send``, which includes the emulator's work). ``own`` time = total - that wait: the in-process
time of our code plus botocore, far less noisy than the total. ``*_overhead_own_ms`` compares it
between request and baseline.
"""

from __future__ import annotations

import gc
import json
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from . import Figures, figure, moto_scaling
from .percentiles import median, median_difference_interval, percentile

__all__ = ["run", "WarmApi", "start_warm_api", "AwsWait", "Sample", "CALLS_IN_TABLE"]

CALLS_IN_TABLE = 10_000
CREATE_REQUESTS = 200
LIST_REQUESTS = 100
WARMUP_REQUESTS = 20
LIST_LIMIT = 100
LIST_FETCH = LIST_LIMIT + 2  # what query_calls asks DynamoDB for: one to learn has_more, one for the cursor
BATCH_WRITE_SIZE = 25  # DynamoDB's BatchWriteItem maximum
SEEDED_CALL_SPACING_S = 60  # seeded calls are one minute apart, the newest a minute ago

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
AGENT_BODY = {
    "name": "Benchmark reminders",
    "type": "outbound",
    "instructions": "Confirm the appointment for {{name}} on {{date}}.",
    "first_message": "Hi {{name}}, this is a quick call about your appointment.",
    "returns": {"confirmed": "boolean"},
    "number_ids": ["pn_abc123"],
    "primary_number_id": "pn_abc123",
}
CALL_TO = "+14155550199"
CALL_CONTEXT = {"name": "Ada", "date": "Tuesday"}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class Sample:
    """One timed operation: wall time, time spent waiting on AWS round trips, and how many there were."""

    total_ms: float
    aws_ms: float
    round_trips: int

    @property
    def own_ms(self) -> float:
        """Time spent in this process outside AWS round trips (our code, Chalice and botocore)."""
        return self.total_ms - self.aws_ms


class AwsWait:
    """Accumulates the time one thread spends inside botocore's HTTP ``send`` (a whole round trip).

    Both the app's clients (PynamoDB's and the SQS one) and the baseline's boto3 clients send through
    ``URLLib3Session.send``; request signing and response parsing stay outside it.
    """

    def __init__(self) -> None:
        self.total_ms = 0.0
        self.round_trips = 0
        self._thread = threading.get_ident()

    @contextmanager
    def installed(self) -> Iterator["AwsWait"]:
        """Wrap ``URLLib3Session.send`` while the block runs."""
        from botocore.httpsession import URLLib3Session

        original = URLLib3Session.send

        def send(session: Any, request: Any) -> Any:
            if threading.get_ident() != self._thread:
                return original(session, request)
            started = time.perf_counter()
            try:
                return original(session, request)
            finally:
                self.total_ms += _ms(started)
                self.round_trips += 1

        URLLib3Session.send = send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            URLLib3Session.send = original  # type: ignore[method-assign]

    def time(self, operation: Callable[[], float]) -> Sample:
        """Run ``operation`` (which returns its own wall time) and attribute the AWS wait inside it."""
        waited, trips = self.total_ms, self.round_trips
        total = operation()
        return Sample(total, self.total_ms - waited, self.round_trips - trips)


@dataclass
class WarmApi:
    """A warm API in this process, its emulated AWS, and a boto3 client pair for the baseline."""

    aws: Any
    client: Any
    workspace_id: str
    api_key: str
    agent_id: str
    dynamodb: Any
    sqs: Any
    table: str
    dial_queue_url: str
    call_item: dict[str, Any]
    webhooks_queue_url: str = ""

    # ---- requests through the app -------------------------------------------------------------

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json", **extra}

    def send(self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None
             ) -> tuple[float, Any]:
        """Send one request through the app: milliseconds taken, and the response (a non-200 raises).

        Only the app's handling is timed: encoding the body and parsing the answer are the client's.
        """
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        headers = self._headers(**extra)
        raw = b"" if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        response = self.client.http.request(method, path, headers=headers, body=raw)
        elapsed = _ms(started)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.body[:500]!r}")
        return elapsed, response

    def request(self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None
                ) -> Any:
        """Send one request through the app and return its JSON answer (a non-200 raises)."""
        return self.send(method, path, body, idempotency_key=idempotency_key)[1].json_body

    def create_call(self) -> float:
        """``POST /v1/calls`` with a fresh Idempotency-Key (as the SDK sends); milliseconds."""
        body = {"agent_id": self.agent_id, "to": CALL_TO, "context": CALL_CONTEXT}
        return self.send("POST", "/v1/calls", body, idempotency_key=f"cbk_{uuid.uuid4()}")[0]

    def list_calls(self) -> float:
        """``GET /v1/calls?limit=100``; milliseconds."""
        elapsed, response = self.send("GET", f"/v1/calls?limit={LIST_LIMIT}")
        if response.body.count(b'"object": "call"') != LIST_LIMIT:
            raise RuntimeError(f"the list did not return {LIST_LIMIT} calls: {response.body[:300]!r}")
        return elapsed

    # ---- the AWS calls those requests need, made directly --------------------------------------

    def _key(self, sort_key: str) -> dict[str, Any]:
        return {"PK": {"S": f"ws#{self.workspace_id}"}, "SK": {"S": sort_key}}

    def baseline_create(self) -> float:
        """The AWS calls of a create with an Idempotency-Key, as bare boto3 calls; milliseconds.

        Six for the call itself, two for its ``call.queued`` event (stored with its dedupe key in
        one transaction, then its fan-out job, which also puts it on the bus)."""
        from callingbox.core.ids import new_id

        call_id = new_id("call")
        idem_key = self._key(f"idem#cbk_{uuid.uuid4()}")
        item = {**self.call_item, "SK": {"S": f"call#{call_id}"},
                "doc": {"S": self.call_item["doc"]["S"].replace(self.call_item["SK"]["S"][5:], call_id)}}
        started = time.perf_counter()
        now = int(time.time())
        self.dynamodb.put_item(
            TableName=self.table,
            Item={**idem_key, "request_hash": {"S": "0" * 64}, "state": {"S": "in_progress"},
                  "claim_expires_at": {"N": str(now + 60)}, "expires_at": {"N": str(now + 86400)}},
            ConditionExpression="attribute_not_exists(PK) OR expires_at < :now"
                                " OR (#state = :in_progress AND claim_expires_at < :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":now": {"N": str(now)}, ":in_progress": {"S": "in_progress"}},
        )
        self.dynamodb.get_item(TableName=self.table, Key=self._key(f"agent#{self.agent_id}"), ConsistentRead=True)
        self.dynamodb.get_item(TableName=self.table, Key=self._key("number#pn_abc123"), ConsistentRead=True)
        self.dynamodb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        self.sqs.send_message(QueueUrl=self.dial_queue_url,
                              MessageBody=json.dumps({"workspace_id": self.workspace_id, "call_id": call_id}))
        # call.queued: the event and its dedupe key in one transaction, then the fan-out job
        event_id = new_id("evt")
        event_key = self._key(f"evt#{event_id}")
        self.dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table, "Item": {**event_key, "doc": item["doc"]},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": self.table, "Item": {**self._key(f"evtkey#{call_id}:call.queued"),
                                                       "event_id": {"S": event_id}},
                     "ConditionExpression": "attribute_not_exists(PK)"}},
        ])
        self.sqs.send_message(QueueUrl=self.webhooks_queue_url, MessageBody=json.dumps(
            {"kind": "fan_out", "workspace_id": self.workspace_id, "event_id": event_id}))
        self.dynamodb.update_item(
            TableName=self.table, Key=idem_key,
            UpdateExpression="SET #state = :done, status_code = :code, #response = :body",
            ExpressionAttributeNames={"#state": "state", "#response": "response"},
            ExpressionAttributeValues={":done": {"S": "done"}, ":code": {"N": "200"}, ":body": item["doc"]},
        )
        return _ms(started)

    def baseline_list(self) -> float:
        """The one Query behind ``GET /v1/calls?limit=100``, as a bare boto3 call; milliseconds."""
        started = time.perf_counter()
        response = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lower AND :upper",
            ExpressionAttributeValues={":pk": {"S": f"ws#{self.workspace_id}"}, ":lower": {"S": "call#"},
                                       ":upper": {"S": "call#~"}},
            ScanIndexForward=False, Limit=LIST_FETCH,
        )
        elapsed = _ms(started)
        if len(response["Items"]) != LIST_FETCH:
            raise RuntimeError(f"the baseline query returned {len(response['Items'])} items, not {LIST_FETCH}")
        return elapsed

    # ---- setup ---------------------------------------------------------------------------------

    def seed_calls(self, count: int) -> None:
        """Write ``count`` older copies of :attr:`call_item` (new ids, one minute apart) in batches."""
        from callingbox.core.ids import new_id

        template = json.loads(self.call_item["doc"]["S"])
        newest = int(template["created"]) - SEEDED_CALL_SPACING_S
        requests = []
        for index in range(count):
            created = newest - index * SEEDED_CALL_SPACING_S
            call_id = new_id("call", now_ms=created * 1000)
            doc = {**template, "id": call_id, "created": created, "updated": created}
            item = {**self.call_item, "SK": {"S": f"call#{call_id}"}, "doc": {"S": json.dumps(doc)}}
            requests.append({"PutRequest": {"Item": item}})
        for start in range(0, len(requests), BATCH_WRITE_SIZE):
            pending = {self.table: requests[start:start + BATCH_WRITE_SIZE]}
            while pending:
                pending = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    def stop(self) -> None:
        """Uninstall the runtime and stop the emulation."""
        from chalicelib import runtime  # type: ignore[import-not-found]

        runtime.install(None)
        self.aws.stop()


def start_warm_api() -> WarmApi:
    """Start the emulation, install the API's runtime, and make a workspace, numbers, agent and one call."""
    import boto3
    from chalice.test import Client

    from callingbox.core.settings import Settings
    from callingbox.core.store.workspaces import create_workspace
    from callingbox.local.aws import LOCAL_CREDENTIALS, start_emulated_aws
    from callingbox.local.demo_numbers import seed_demo_numbers
    from callingbox.local.stack import load_api_app

    aws = start_emulated_aws()
    try:
        settings = Settings.from_env(aws.environment())
        app = load_api_app()
        from chalicelib import runtime  # type: ignore[import-not-found]

        runtime.install(runtime.Runtime.from_settings(settings))
        workspace, api_key = create_workspace("benchmark")
        workspace_id = str(workspace["id"])
        seed_demo_numbers(workspace_id)
        client_options = {"endpoint_url": aws.endpoint_url, "region_name": settings.region,
                          "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                          "aws_session_token": LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"]}
        api = WarmApi(aws=aws, client=Client(app, stage_name="dev", project_dir=str(FUNCTIONS)),
                      workspace_id=workspace_id, api_key=api_key, agent_id="",
                      dynamodb=boto3.client("dynamodb", **client_options), sqs=boto3.client("sqs", **client_options),
                      table=settings.table_name, dial_queue_url=settings.queue_urls["dial"], call_item={},
                      webhooks_queue_url=settings.queue_urls["webhooks"])
        api.agent_id = api.request("POST", "/v1/agents", AGENT_BODY)["id"]
        call = api.request("POST", "/v1/calls", {"agent_id": api.agent_id, "to": CALL_TO, "context": CALL_CONTEXT},
                           idempotency_key=f"cbk_{uuid.uuid4()}")
        api.call_item = api.dynamodb.get_item(TableName=api.table, Key=api._key(f"call#{call['id']}"),
                                              ConsistentRead=True)["Item"]
        return api
    except BaseException:
        aws.stop()
        raise


def _interleaved(count: int, wait: AwsWait, request: Callable[[], float], baseline: Callable[[], float]
                 ) -> tuple[list[Sample], list[Sample]]:
    """``count`` samples of each, alternating which goes first."""
    requests: list[Sample] = []
    baselines: list[Sample] = []
    for index in range(count):
        if index % 2 == 0:
            requests.append(wait.time(request))
            baselines.append(wait.time(baseline))
        else:
            baselines.append(wait.time(baseline))
            requests.append(wait.time(request))
    return requests, baselines


def _usual_round_trips(samples: list[Sample]) -> int:
    # The most common count: a request that refreshes the cached API key makes one more.
    counts = [s.round_trips for s in samples]
    return max(set(counts), key=counts.count)


def _figures(name: str, requests: list[Sample], baselines: list[Sample]) -> Figures:
    totals, base_totals = [s.total_ms for s in requests], [s.total_ms for s in baselines]
    p50, base_p50 = median(totals), median(base_totals)
    own, base_own = median([s.own_ms for s in requests]), median([s.own_ms for s in baselines])
    trips = _usual_round_trips(requests)
    low, high = median_difference_interval(totals, base_totals)
    return {
        f"api.{name}_p50_ms": figure(p50, "ms", n=len(totals)),
        f"api.{name}_p99_ms": figure(percentile(totals, 0.99), "ms", n=len(totals)),
        f"api.{name}_baseline_p50_ms": figure(base_p50, "ms", n=len(base_totals)),
        f"api.{name}_overhead_ms": figure(p50 - base_p50, "ms", ci95=f"[{low:.1f}, {high:.1f}]", goal="<= 5"),
        f"api.{name}_own_p50_ms": figure(own, "ms", aws_round_trips=trips),
        f"api.{name}_baseline_own_p50_ms": figure(base_own, "ms",
                                                  aws_round_trips=_usual_round_trips(baselines)),
        f"api.{name}_overhead_own_ms": figure(own - base_own, "ms"),
    }


def _print_table(rows: list[tuple[str, list[Sample], list[Sample]]]) -> None:
    print(f"  {'ms':<24} {'n':>4} {'p50':>8} {'p99':>8} {'base p50':>9} {'base p99':>9} {'overhead':>9} "
          f"{'own p50':>8} {'base own':>8} {'own ovh':>8}")
    for label, requests, baselines in rows:
        totals, base_totals = [s.total_ms for s in requests], [s.total_ms for s in baselines]
        own, base_own = median([s.own_ms for s in requests]), median([s.own_ms for s in baselines])
        print(f"  {label:<24} {len(totals):>4} {median(totals):>8.2f} {percentile(totals, 0.99):>8.2f} "
              f"{median(base_totals):>9.2f} {percentile(base_totals, 0.99):>9.2f} "
              f"{median(totals) - median(base_totals):>9.2f} {own:>8.2f} {base_own:>8.2f} {own - base_own:>8.2f}")


def run() -> Figures:
    """Seed the table, warm up, then time both operations and their baselines."""
    # Without moto's table- and queue-sized costs (moto_scaling): the dial and webhooks queues fill
    # up over the run, and moto's SendMessage otherwise counts their backlog at every send.
    with moto_scaling.installed():
        return _run()


def _run() -> Figures:
    started = time.perf_counter()
    api = start_warm_api()
    try:
        api.seed_calls(CALLS_IN_TABLE)
        print(f"  setup: emulation, workspace, agent and {CALLS_IN_TABLE} calls in {time.perf_counter() - started:.1f} s")
        # The emulator's heap (every item) is no part of a Lambda's: keep the collector from walking it.
        gc.collect()
        gc.freeze()
        wait = AwsWait()
        with wait.installed():
            _interleaved(WARMUP_REQUESTS, wait, api.create_call, api.baseline_create)
            create, create_base = _interleaved(CREATE_REQUESTS, wait, api.create_call, api.baseline_create)
            _interleaved(WARMUP_REQUESTS, wait, api.list_calls, api.baseline_list)
            listing, list_base = _interleaved(LIST_REQUESTS, wait, api.list_calls, api.baseline_list)
    finally:
        gc.unfreeze()
        api.stop()
    _print_table([("POST /v1/calls", create, create_base),
                  (f"GET /v1/calls?limit={LIST_LIMIT}", listing, list_base)])
    return {**_figures("create_call", create, create_base), **_figures("list_calls", listing, list_base)}
