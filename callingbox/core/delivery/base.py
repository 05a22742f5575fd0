"""The webhook delivery worker: fan an event out to its destinations, then deliver to each one.

Two kinds of job arrive on the ``webhooks`` queue::

    fan_out(event)          ──► one delivery record per destination, each with a first job
                                (the call's webhook_url, else its agent's; every enabled endpoint
                                subscribed to the type); publishes the event to EventBridge
    deliver(event, dest, n) ──► attempt n: sign, POST (10 s), log the attempt on the delivery
                                ├── 2xx            succeeded
                                ├── else, < 24 h   pending: job n+1 after backoff with jitter
                                └── else           failed (dead-lettered; redeliver restarts)

Every attempt of one delivery sends the same bytes (the stored event) with the same
``CallingBox-Event-Id``; only the signature's timestamp changes. Each job is safe to run twice:
see :mod:`callingbox.core.store.deliveries` for how one attempt is performed exactly once.

Examples:
    worker = DeliveryWorker(settings, job_queues(settings))
    worker.run({"kind": "fan_out", "workspace_id": ws, "event_id": "evt_…"})

Limitations:
    Records of one batch are delivered one after another, each taking up to 10 s; keep the
    Lambda's batch size small (≤ 5) so a batch finishes inside the queue's visibility timeout.
"""

from __future__ import annotations

import math
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import NotFound
from ..events import job_queues, publish_event
from ..observability import get_logger
from ..queues import JobQueues
from ..settings import Settings
from ..signing import EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from ..store import deliveries as delivery_store
from ..store import events as event_store
from ..store import webhook_endpoints as endpoint_store
from ..store.binding import bind_store
from ..store.deliveries import DeliveryRecord
from ..webhook_endpoints import subscribes, workspace_signing_secrets
from . import backoff
from .exceptions import AttemptInProgress, DeliveryError, DestinationRefused
from .sender import Resolver, post, resolve_target
from .types import AttemptReport, DeliveryJob, Destination, FanOutJob, HttpOutcome, parse_job

__all__ = ["DeliveryWorker", "redeliver", "add_attempt_listener", "LEASE_S", "QUEUE"]

QUEUE = "webhooks"
# A worker holds an attempt this long: the 10 s timeout, DNS, the writes, with room to spare, and
# still shorter than the queue's 60 s visibility timeout, so a redelivered copy finds it expired.
LEASE_S = 50.0
# A job due within this long is slept on rather than put back on the queue.
EARLY_SLEEP_MAX_S = 1.0

_listeners: list[Callable[[AttemptReport], None]] = []
_listeners_lock = threading.Lock()


def add_attempt_listener(listener: Callable[[AttemptReport], None]) -> Callable[[], None]:
    """Call ``listener`` after every recorded attempt in this process; returns its remover.

    For local tooling (``callingbox dev --forward-webhooks`` prints each delivery); a listener
    that raises is logged and ignored.
    """
    with _listeners_lock:
        _listeners.append(listener)

    def remove() -> None:
        with _listeners_lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def _notify(report: AttemptReport) -> None:
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(report)
        except Exception:
            get_logger("webhooks").exception("attempt listener failed")


class _DestinationGone(DeliveryError):
    """The endpoint was deleted or disabled: the delivery ends without a request."""


@dataclass
class DeliveryWorker:
    """Runs webhooks jobs. Clock, sleep, jitter and DNS are injectable for tests."""

    settings: Settings
    queues: JobQueues
    resolver: Resolver = socket.getaddrinfo
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random
    logger: Any = field(default_factory=lambda: get_logger("webhooks"))

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "DeliveryWorker":
        """A worker on ``settings``' table and queues."""
        return cls(settings, job_queues(settings), **overrides)

    def run(self, body: Any) -> None:
        """Run one job (a decoded message body); :class:`InvalidJob` for anything else."""
        job = parse_job(body)
        bind_store(self.settings)
        self.logger.append_keys(event_id=job.event_id, workspace_id=job.workspace_id)
        try:
            if isinstance(job, FanOutJob):
                self.fan_out(job)
            else:
                self.deliver(job)
        finally:
            self.logger.remove_keys(["event_id", "workspace_id", "call_id"])

    # -- fan-out -------------------------------------------------------------------------------

    def destinations(self, workspace_id: str, event: dict[str, Any]) -> list[Destination]:
        """The call's webhook_url (else its agent's) and every enabled endpoint taking the type."""
        call = (event.get("data") or {}).get("object") or {}
        found: list[Destination] = []
        url = call.get("webhook_url") or (call.get("agent_snapshot") or {}).get("webhook_url")
        if url:
            found.append(Destination("webhook_url", url))
        for endpoint in endpoint_store.all_endpoints(workspace_id):
            doc = endpoint.doc
            if subscribes(doc, event["type"]):
                found.append(Destination("endpoint", doc["url"], doc["id"]))
        return found

    def fan_out(self, job: FanOutJob) -> None:
        """Create the event's deliveries and their first jobs, publish it to the bus if not yet done,
        and record both in one write."""
        try:
            record = event_store.get_event(job.workspace_id, job.event_id)
        except NotFound:
            self.logger.warning("fan-out for an event that no longer exists; dropped")
            return
        event = record.doc
        self.logger.append_keys(call_id=event["data"]["object"].get("id"))
        now = self.clock()
        for destination in self.destinations(job.workspace_id, event):
            delivery_store.create_delivery(job.workspace_id, DeliveryRecord(
                event_id=job.event_id, destination=destination.kind, endpoint_id=destination.endpoint_id,
                url=destination.url, status="pending", attempt_count=0, scheduled_attempt=0,
                next_attempt_at=now, window_started_at=now, created=int(now)))
        for delivery in delivery_store.list_deliveries(job.workspace_id, job.event_id):
            if delivery.status == "pending" and delivery.scheduled_attempt <= delivery.attempt_count:
                self.schedule(job.workspace_id, job.event_id, delivery.key, attempt=delivery.attempt_count + 1,
                              at=delivery.next_attempt_at or now)
        published = record.published or publish_event(self.settings, record.raw, event_type=record.type,
                                                      created=int(event["created"]))
        if not record.fanned_out or (published and not record.published):
            event_store.mark_fanned_out(job.workspace_id, job.event_id, published=published)
        if not published:
            # Raising hands the job back to SQS: deliveries are queued already, publishing retries.
            raise DeliveryError("the event could not be published to EventBridge yet; retrying")

    def schedule(self, workspace_id: str, event_id: str, key: str, *, attempt: int, at: float) -> None:
        """Put the job for ``attempt`` on the queue, due at ``at``, and note that it is there."""
        self._send(DeliveryJob(workspace_id, event_id, key, attempt, at))
        delivery_store.mark_scheduled(workspace_id, event_id, key, attempt=attempt)

    def _send(self, job: DeliveryJob) -> None:
        # Rounded down: a job may arrive up to a second early, and the worker sleeps that off.
        delay = min(backoff.MAX_QUEUE_DELAY_S, max(0, math.floor(job.not_before - self.clock())))
        self.queues.send(QUEUE, job.body(), delay_seconds=delay)

    # -- one attempt ---------------------------------------------------------------------------

    def deliver(self, job: DeliveryJob) -> None:
        """Perform attempt ``job.attempt`` if it is due and not done yet."""
        ws, event_id, key = job.workspace_id, job.event_id, job.destination
        delivery = delivery_store.get_delivery(ws, event_id, key)
        if delivery is None or delivery.status != "pending":
            return  # succeeded, dead-lettered, or expired: nothing left to do
        if delivery.attempt_count >= job.attempt:
            # A copy of a job already run. If the worker that ran it died before queueing the next
            # attempt, nobody else will: queue it now.
            if delivery.attempt_count == job.attempt and delivery.scheduled_attempt <= delivery.attempt_count:
                self.schedule(ws, event_id, key, attempt=delivery.attempt_count + 1,
                              at=delivery.next_attempt_at or self.clock())
            return
        if delivery.attempt_count < job.attempt - 1:
            self.logger.warning("job for an attempt beyond the next one; dropped", extra={"attempt": job.attempt})
            return
        due = delivery.next_attempt_at if delivery.next_attempt_at is not None else job.not_before
        wait = due - self.clock()
        if wait > EARLY_SLEEP_MAX_S:
            self._send(DeliveryJob(ws, event_id, key, job.attempt, due))  # SQS delays stop at 15 min
            return
        if wait > 0:
            self.sleep(wait)
        token = uuid.uuid4().hex
        if not delivery_store.claim_attempt(ws, event_id, key, attempt=job.attempt, token=token, now=self.clock(),
                                            lease_s=LEASE_S):
            fresh = delivery_store.get_delivery(ws, event_id, key)
            if fresh is None or fresh.status != "pending" or fresh.attempt_count >= job.attempt:
                return
            raise AttemptInProgress(f"attempt {job.attempt} is being made by another worker")
        self._attempt(job, delivery, token)

    def _secrets_and_url(self, workspace_id: str, delivery: DeliveryRecord, now: float) -> tuple[list[str], str]:
        if delivery.destination == "endpoint":
            try:
                endpoint = endpoint_store.get_endpoint(workspace_id, str(delivery.endpoint_id))
            except NotFound:
                raise _DestinationGone("the webhook endpoint was deleted") from None
            doc = endpoint.doc
            if not doc.get("enabled", True):
                raise _DestinationGone("the webhook endpoint is disabled")
            return endpoint.secrets.valid(now), str(doc["url"])
        secrets, _ = workspace_signing_secrets(workspace_id)
        return secrets.valid(now), delivery.url

    def _attempt(self, job: DeliveryJob, delivery: DeliveryRecord, token: str) -> None:
        ws, event_id, key = job.workspace_id, job.event_id, job.destination
        try:
            event = event_store.get_event(ws, event_id)
        except NotFound:
            event = None
        url = delivery.url
        gone = False
        started = self.clock()
        if event is None:
            outcome, gone = HttpOutcome(None, 0, "the event no longer exists"), True
        else:
            try:
                secrets, url = self._secrets_and_url(ws, delivery, started)
                target = resolve_target(url, allow_loopback=self.settings.allow_insecure_urls, resolver=self.resolver)
                body = event.raw.encode("utf-8")
                headers = {
                    SIGNATURE_HEADER: sign(secrets, body, timestamp=int(self.clock())),
                    EVENT_ID_HEADER: event_id,
                    "CallingBox-Event-Type": event.type,
                    "CallingBox-Delivery-Attempt": str(job.attempt),
                }
                outcome = post(target, body, headers)
            except _DestinationGone as error:
                outcome, gone = HttpOutcome(None, 0, str(error)), True
            except DestinationRefused as error:
                outcome = HttpOutcome(None, int((self.clock() - started) * 1000), f"refused: {error}")
        at = self.clock()
        entry = {"attempt": job.attempt, "at": int(at), "status_code": outcome.status_code,
                 "latency_ms": outcome.latency_ms, "error": outcome.error, "succeeded": outcome.succeeded}
        next_at: Optional[float] = None
        if outcome.succeeded:
            status = "succeeded"
        elif gone:
            status = "failed"
        else:
            failures = 1 + sum(1 for past in delivery.attempts
                               if past.get("at", 0) >= int(delivery.window_started_at) and not past.get("succeeded"))
            next_at = backoff.next_attempt_at(at, window_started_at=delivery.window_started_at, failures=failures,
                                              scale=self.settings.webhook_backoff_scale, rng=self.rng)
            status = "pending" if next_at is not None else "failed"
        if not delivery_store.record_attempt(ws, event_id, key, attempt=job.attempt, token=token, entry=entry,
                                             previous=delivery.attempts, status=status, next_attempt_at=next_at,
                                             url=url):
            # Our lease ran out and another worker took the attempt over; its record stands.
            self.logger.warning("attempt finished after its lease expired; not recorded",
                                extra={"attempt": job.attempt})
            return
        event_doc = event.doc if event is not None else {}
        call_id = ((event_doc.get("data") or {}).get("object") or {}).get("id")
        self.logger.append_keys(call_id=call_id)
        log = self.logger.info if outcome.succeeded else self.logger.warning
        log("webhook attempt", extra={"attempt": job.attempt, "destination": key, "status_code": outcome.status_code,
                                      "latency_ms": outcome.latency_ms, "error": outcome.error,
                                      "delivery_status": status})
        _notify(AttemptReport(
            workspace_id=ws, event_id=event_id, event_type=event.type if event is not None else "",
            call_id=call_id, destination=delivery.destination, endpoint_id=delivery.endpoint_id, url=url,
            attempt=job.attempt, status_code=outcome.status_code, latency_ms=outcome.latency_ms,
            error=outcome.error, succeeded=outcome.succeeded, delivery_status=status, next_attempt_at=next_at))
        if status == "pending" and next_at is not None:
            self.schedule(ws, event_id, key, attempt=job.attempt + 1, at=next_at)


def redeliver(settings: Settings, workspace_id: str, event_id: str, *, queues: JobQueues) -> None:
    """Send a stored event again to each of its destinations, with a fresh retry window.

    An event that has no delivery yet (no destination when it was fanned out, or not fanned out at
    all) is fanned out again, reaching the endpoints subscribed today.
    """
    worker = DeliveryWorker(settings, queues)
    bind_store(settings)
    deliveries = delivery_store.list_deliveries(workspace_id, event_id)
    if not deliveries:
        queues.send(QUEUE, FanOutJob(workspace_id, event_id).body())
        return
    now = worker.clock()
    for delivery in deliveries:
        fresh = delivery_store.restart_delivery(workspace_id, event_id, delivery.key, now=now)
        if fresh is not None:
            worker.schedule(workspace_id, event_id, fresh.key, attempt=fresh.attempt_count + 1, at=now)
