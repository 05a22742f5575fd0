"""After the call: 1,000 completed calls through extraction and webhook delivery to a flaky receiver.

The local stack runs the API (``voice=False``: no gateway, carrier or dialer; the dial jobs stay on
their queue) with the product's extraction and webhook workers fed by local SQS pollers, as the
event source mappings feed the Lambdas. Extraction uses a model fake of fixed latency
(:data:`MODEL_LATENCY_S`, then a valid answer for the agent's ``returns``); everything else is the
product: Powertools batch processing and idempotency, the conditional result write,
``call.completed`` stored, published and fanned out, signed deliveries with backoff and jitter
(scaled by ``CALLINGBOX_WEBHOOK_BACKOFF_SCALE`` = :data:`BACKOFF_SCALE`, so a day of retries fits
in minutes).

The emulated AWS is the stack's own (``callingbox.local.aws.start_emulated_aws``) but started in a
child process and with moto's table- and queue-sized costs removed (:mod:`.moto_scaling`): in one
process it takes more than half of the GIL from the workers it serves, and its quadratic paths make
a 1,000-call run measure moto. Even so the emulator is the bottleneck: about 58 AWS requests per
call (API 8, call producer 7, extraction 14, webhooks 29) at 2.5–3 ms of moto CPU each. The
pipeline keeps up with about 3 calls/s on a quiet 2-core machine; offered more, queues grow and the
latency figures measure the backlog, hence :data:`CALLS_PER_S`.

Each call is made through the API (``POST /v1/calls``, which emits ``call.queued``), then, at a
steady :data:`CALLS_PER_S`, moved to ``in_progress`` and ``completed`` in the store with a short
transcript, and its extraction job queued exactly as the product does when a call ends
(:func:`callingbox.core.telephony.enqueue_post_call`, which delays it
:data:`~callingbox.core.telephony.EXTRACTION_DELAY_S` so the gateway's last transcript writes land
first). The moment the ``completed`` write returned is the call's end.

The agent's ``webhook_url`` is a stdlib ``ThreadingHTTPServer`` on loopback that verifies every
delivery's signature with :func:`callingbox.webhooks.verify` (the workspace secret from ``GET
/v1/webhook_secret``) and answers 500 to a random :data:`FAILURE_RATE` of them (seeded), 400 to a
bad signature and 204 otherwise. It records each delivery's ``CallingBox-Event-Id``, event type,
attempt number, arrival time and answer. The run waits until every call's ``call.completed`` was
accepted (or until none more was for :data:`STALL_S`), then :data:`SETTLE_S` more for late copies.

- ``webhooks.lost``: calls whose ``call.completed`` never reached the receiver with a 2xx within
  the run (goal 0).
- ``webhooks.duplicates``: accepted (2xx) deliveries of an event id that the receiver had already
  accepted, i.e. accepted deliveries − distinct accepted event ids, over every event type (goal 0).
  A retry after a 500 is not a duplicate; a second 2xx for the same ``evt_`` id is.
- ``webhooks.delivery_p50_ms``, ``webhooks.delivery_p99_ms``: call end → arrival at the receiver
  of the first delivery attempt of its ``call.completed`` (whatever the receiver answered). This
  includes the product's 5 s extraction delay; the figures print it and the latency net of it.

Also printed: throughput (calls whose ``call.completed`` was accepted per second, from the first
call end to the last acceptance) against the offered rate, CPU seconds of the platform (this
process) and of the emulator, retries (deliveries with an attempt number > 1) and 500s answered,
signature failures (goal 0), lost ``call.queued`` events, and deliveries whose ``result`` is not
the fake's answer (goal 0).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from . import Figures, figure, moto_scaling
from .percentiles import percentile

CALLS = 1000
# Offered load: calls ending per second: about what the local pipeline sustains on a quiet 2-core
# machine (1,000 calls take 5.6 minutes). When other work shares the cores it falls behind and the
# latency figures grow with the backlog (2.5/s did no better then, and took longer).
CALLS_PER_S = 3.0
FAILURE_RATE = 0.2
MODEL_LATENCY_S = 0.05
# The first retry within 0.3 s instead of 30 s; the 24 h retry window becomes 14.4 minutes.
BACKOFF_SCALE = 0.01
EXTRACTION_POLLERS = 3
WEBHOOK_POLLERS = 4
# Threads creating and ending calls (each call costs a few store writes and an API request).
CALL_THREADS = 6
# The run ends when every call.completed was accepted, or when none more was for STALL_S (a
# delivery in backoff waits at most 3,600 s x BACKOFF_SCALE between attempts), or at MAX_WAIT_S.
STALL_S = 60.0
MAX_WAIT_S = 600.0
SETTLE_S = 5.0
SEED = 5
RETURNS: dict[str, Any] = {"confirmed": "boolean", "day": ["monday", "tuesday", "wednesday"],
                           "party_size": "integer"}
AGENT_LINE = "Hi, this is Bright Smiles Dental. Can you make your cleaning, which day suits you, and how many of you?"
CALLER_LINE = "Yes, I'll be there on tuesday, the two of us."
EXPECTED = {"confirmed": True, "day": "tuesday", "party_size": 2}


def _fake_value(name: str, schema: dict[str, Any]) -> Any:
    """A valid value for one property of a ``returns`` JSON Schema (the transcript's answer if known)."""
    if name in EXPECTED:
        return EXPECTED[name]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
    if "boolean" in kinds:
        return True
    if "integer" in kinds or "number" in kinds:
        return 1
    if schema.get("format") == "date":
        return dt.date.today().isoformat()
    if schema.get("format") == "date-time":
        return dt.datetime.now(dt.UTC).isoformat()
    return "yes"


def fixed_latency_extractor(latency_s: float) -> Any:
    """An :class:`~callingbox.core.extraction.base.Extractor` that answers after ``latency_s``: the
    model's time, with no model."""
    from callingbox.core.extraction.base import Extractor, RawExtraction

    class FixedLatencyExtractor(Extractor):
        model = "bench:fixed-latency"

        def extract(self, schema: dict[str, Any], transcript: list[Any], *, feedback: str | None = None,
                    facts: Any = None) -> RawExtraction:
            time.sleep(latency_s)
            properties = schema.get("properties") or {}
            values = {name: _fake_value(name, prop) for name, prop in properties.items()}
            quote = next((s["text"] for s in transcript if s["party"] == "caller"), "")
            return RawExtraction(values=values, evidence={name: quote for name in values}, raw=values)

    return FixedLatencyExtractor()


@dataclass
class Delivery:
    """One request as the receiver saw it."""

    event_id: str
    event_type: str
    call_id: str
    attempt: int
    arrived: float  # time.monotonic() when the handler started
    status: int
    result: Any = None


@dataclass
class FlakyReceiver:
    """A loopback webhook receiver that verifies signatures and fails ``failure_rate`` of deliveries."""

    secret: str
    failure_rate: float
    seed: int
    deliveries: list[Delivery] = field(default_factory=list)
    signature_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    def start(self) -> FlakyReceiver:
        from callingbox import webhooks

        receiver = self
        rng = random.Random(self.seed)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = webhooks.verify(body, self.headers.get(webhooks.SIGNATURE_HEADER), receiver.secret)
                except webhooks.WebhookVerificationError:
                    event = None
                with receiver.lock:
                    if event is None:
                        receiver.signature_failures += 1
                        status = 400
                    else:
                        status = 500 if rng.random() < receiver.failure_rate else 204
                    call = getattr(getattr(event, "data", None), "object", None)
                    receiver.deliveries.append(Delivery(
                        event_id=str(self.headers.get(webhooks.EVENT_ID_HEADER) or ""),
                        event_type=str(getattr(event, "type", "") or ""), call_id=str(getattr(call, "id", "") or ""),
                        attempt=int(self.headers.get("CallingBox-Delivery-Attempt") or 0), arrived=arrived,
                        status=status, result=getattr(call, "result", None)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket.listen(256)
        self.thread = threading.Thread(target=self.server.serve_forever, name="bench-receiver", daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)


def _start_workers(settings: Any) -> list[Any]:
    """The extraction worker with the model fake, and the delivery worker, each on several pollers."""
    from callingbox.core.delivery import DeliveryWorker
    from callingbox.core.extraction.worker import ExtractionWorker
    from callingbox.local.webhook_worker import BATCH_SIZE
    from callingbox.local.workers import load_handler, start_queue_worker

    extraction_handler = load_handler("extraction")
    webhooks_handler = load_handler("webhooks")
    from workers import (
        extraction,  # type: ignore[import-not-found]
        webhooks,  # type: ignore[import-not-found]
    )

    extractor = fixed_latency_extractor(MODEL_LATENCY_S)
    extraction.install(extraction.ExtractionRuntime.from_settings(
        settings, worker=ExtractionWorker(settings, extractors=lambda model: extractor)))
    webhooks.install(DeliveryWorker.from_settings(settings))
    common = {"endpoint_url": settings.aws_endpoint_url, "region": settings.region}
    return [
        *(start_queue_worker(settings.queue_urls["extraction"], extraction_handler, name=f"extraction-{n}", **common)
          for n in range(EXTRACTION_POLLERS)),
        *(start_queue_worker(settings.queue_urls["webhooks"], webhooks_handler, name=f"webhooks-{n}",
                             batch_size=BATCH_SIZE, **common) for n in range(WEBHOOK_POLLERS)),
    ]


def _own_cpu_s() -> float:
    """CPU seconds this process (the platform: API, workers, receiver, call producer) has used."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _uninstall_workers() -> None:
    from workers import (
        extraction,  # type: ignore[import-not-found]
        webhooks,  # type: ignore[import-not-found]
    )

    extraction.install(None)
    webhooks.install(None)


def run() -> Figures:
    with moto_scaling.emulation_in_subprocess():
        return _run()


def _run() -> Figures:
    from callingbox.core.events import job_queues
    from callingbox.core.settings import Settings
    from callingbox.core.store import calls as call_store
    from callingbox.core.store import transcripts
    from callingbox.core.store.workspaces import create_workspace
    from callingbox.core.telephony import EXTRACTION_DELAY_S, enqueue_post_call
    from callingbox.local.demo_numbers import seed_demo_numbers
    from callingbox.local.stack import start_local_stack

    extra_env = {"CALLINGBOX_WEBHOOK_BACKOFF_SCALE": str(BACKOFF_SCALE)}
    saved_env = {name: os.environ.get(name) for name in extra_env}
    stack = start_local_stack(port=0, voice=False, workers=False, extra_env=extra_env)
    settings = Settings.from_env(stack.environment)
    workers: list[Any] = []
    clients: list[httpx.Client] = []
    receiver: FlakyReceiver | None = None
    try:
        workspace, key = create_workspace("bench-webhooks")
        ws = str(workspace["id"])
        seed_demo_numbers(ws)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, trust_env=False, timeout=30) as api:
            secret = api.get("/v1/webhook_secret").raise_for_status().json()["secret"]
            receiver = FlakyReceiver(secret, FAILURE_RATE, SEED).start()
            agent = api.post("/v1/agents", json={
                "name": "Bench", "type": "outbound", "instructions": "Confirm the cleaning.",
                "returns": RETURNS, "webhook_url": receiver.url, "number_ids": ["pn_abc123"],
                "primary_number_id": "pn_abc123"}).raise_for_status().json()
        workers = _start_workers(settings)
        queues = job_queues(settings)
        ended: dict[str, float] = {}
        ended_lock = threading.Lock()
        local = threading.local()
        cpu_before = _own_cpu_s()
        emulator_before = getattr(stack.aws.server, "cpu_seconds", lambda: None)() or 0.0
        started = time.monotonic()

        def one_call(index: int) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(base_url=stack.api_url, headers=headers, trust_env=False,
                                                     timeout=30)
                with ended_lock:
                    clients.append(client)
            due = started + index / CALLS_PER_S
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            made = client.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"})
            made.raise_for_status()
            call_id = str(made.json()["id"])
            now = int(time.time())
            call_store.transition_call(ws, call_id, "in_progress", answered_at=now - 30, answered_by="human")
            transcripts.append_segment(ws, call_id, 0, "agent", AGENT_LINE, 0, 4000)
            transcripts.append_segment(ws, call_id, 1, "caller", CALLER_LINE, 4500, 6500)
            moved = call_store.transition_call(ws, call_id, "completed", ended_at=now, end_reason="caller_hangup",
                                               duration_seconds=30, billable_seconds=30)
            end = time.monotonic()
            if moved.changed:  # as in the product: whoever wins the move to completed queues the job
                enqueue_post_call(queues, ws, call_id)
            with ended_lock:
                ended[call_id] = end

        with ThreadPoolExecutor(CALL_THREADS) as pool:
            list(pool.map(one_call, range(CALLS)))
        offered_s = time.monotonic() - started
        last_end = max(ended.values())
        deadline = last_end + MAX_WAIT_S
        progress, progressed_at = -1, time.monotonic()
        while time.monotonic() < deadline:
            accepted = {d.call_id for d in receiver.snapshot() if d.event_type == "call.completed" and d.status < 300}
            if set(ended) <= accepted:
                break
            if len(accepted) > progress:
                progress, progressed_at = len(accepted), time.monotonic()
            elif time.monotonic() - max(progressed_at, last_end + EXTRACTION_DELAY_S) > STALL_S:
                break
            time.sleep(0.2)
        drained = time.monotonic()
        time.sleep(SETTLE_S)
        deliveries = receiver.snapshot()
        signature_failures = receiver.signature_failures
        cpu = {"platform_cpu_s": round(_own_cpu_s() - cpu_before, 1)}
        emulator_cpu = getattr(stack.aws.server, "cpu_seconds", lambda: None)()
        if emulator_cpu is not None:
            cpu["emulator_cpu_s"] = round(emulator_cpu - emulator_before, 1)
    finally:
        for client in clients:
            client.close()
        for worker in workers:
            worker.stop()
        if workers:
            _uninstall_workers()
        if receiver is not None:
            receiver.stop()
        stack.stop()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    completed = [d for d in deliveries if d.event_type == "call.completed"]
    accepted_completed = {d.call_id: d for d in sorted(completed, key=lambda d: d.arrived) if d.status < 300}
    accepted_completed = {call_id: d for call_id, d in accepted_completed.items() if call_id in ended}
    lost = len(set(ended) - set(accepted_completed))
    accepted = [d for d in deliveries if d.status < 300]
    per_event = collections.Counter(d.event_id for d in accepted)
    duplicates = sum(n - 1 for n in per_event.values())
    first_attempt: dict[str, float] = {}
    for d in completed:
        if d.call_id in ended and (d.call_id not in first_attempt or d.arrived < first_attempt[d.call_id]):
            first_attempt[d.call_id] = d.arrived
    latencies = [(first_attempt[c] - ended[c]) * 1000 for c in first_attempt]
    acceptances = [d.arrived for d in accepted_completed.values()]
    span = (max(acceptances) - min(ended.values())) if acceptances else 0.0
    queued_accepted = {d.call_id for d in accepted if d.event_type == "call.queued"}
    retries = sum(1 for d in deliveries if d.attempt > 1)
    failures = sum(1 for d in deliveries if d.status >= 300)
    max_attempt = max((d.attempt for d in deliveries), default=0)
    wrong_results = sum(1 for d in accepted_completed.values() if d.result != EXPECTED)
    delay_ms = EXTRACTION_DELAY_S * 1000
    p50 = percentile(latencies, 0.5) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    throughput = len(accepted_completed) / span if span else 0.0
    return {
        "webhooks.lost": figure(lost, "calls", calls=len(ended), accepted=len(accepted_completed),
                                queued_events_lost=len(set(ended) - queued_accepted),
                                throughput_calls_per_s=round(throughput, 2), offered_calls_per_s=CALLS_PER_S,
                                calls_ended_in_s=round(offered_s, 1),
                                drained_after_last_end_s=round(drained - last_end, 1), **cpu),
        "webhooks.duplicates": figure(duplicates, "deliveries", accepted=len(accepted),
                                      distinct_events=len(per_event), retries=retries, answered_500=failures,
                                      max_attempt=max_attempt, signature_failures=signature_failures,
                                      wrong_results=wrong_results),
        "webhooks.delivery_p50_ms": figure(p50, "ms", net_of_extraction_delay_ms=round(p50 - delay_ms, 1),
                                           extraction_delay_s=EXTRACTION_DELAY_S, samples=len(latencies)),
        "webhooks.delivery_p99_ms": figure(p99, "ms", net_of_extraction_delay_ms=round(p99 - delay_ms, 1),
                                           max_ms=round(max(latencies), 1) if latencies else None),
    }
