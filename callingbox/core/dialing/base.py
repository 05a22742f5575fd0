"""The dialer's rules: one dial job in, at most one carrier call out.

Per job (:meth:`Dialer.dial`)::

    load the call ── not queued (canceled, or callbacks moved it on) ──────────────► skipped
        │        └── dial.state "dialed" (a duplicate job) ───────────────────────► skipped
        │        └── dial.state "dialing" (another worker holds the claim) ─► fresh: deferred
        │                                                                   stale: recover
        claim (conditional: queued, no dial yet) ── lost ─► look again (as above)
        concurrency: live calls of the workspace > limit ─► release the claim ─► deferred
        pacing: no slot within max_wait_s ─────────────────► release the claim ─► deferred
        wait for the slot (read the call again if that took long: canceled ─► skipped), carrier.dial()
            refusal ──────────────────► failed (end_reason = the carrier's reason)
            carrier answered 429/5xx ─► release the claim, raise DialRetryable (SQS redelivers)
            no answer (network) ──────► keep the claim, raise DialRetryable (redelivery recovers)
        record the sid (dial.state "dialed", started_at); canceled meanwhile ─► hang up

A batch's jobs can share the read, the claim, the count and the slot (:mod:`.batch`, through
:meth:`Dialer.prepare`); each job then starts at the step the prelude reached.

"Deferred" puts a delayed copy of the job on the queue and reports success for this one: a
failure would count towards the queue's maxReceiveCount and end in the dead-letter queue.

Never dialing twice. SQS delivers at least once, and a worker can die at any point, so the claim
(``dial.state "dialing"`` with ``claimed_at``) is written before the carrier is asked, and the
sid after. A job that finds a claim without a sid cannot tell a worker still at work from a dead
one, so it waits until the claim is older than anything a live worker could take
(:data:`CLAIM_STALE_S`), then asks the carrier whether the call exists::

    worker A: claim(t0) ── pace ── carrier.dial ──✝ (dies before recording the sid)
    SQS:                                        (visibility timeout) ── redelivers the job
    worker B: sees "dialing" since t0; t0 older than CLAIM_STALE_S
              carrier.find_call(to, from, started_after=t0-5)
                  found ──► record that sid (recovered; the callbacks take it from there)
                  none  ──► failed, end_reason "error:dial_interrupted" (never dial again: the
                            carrier's call list may lag, and a second real call is worse than none)

Limitations:
    The concurrency count reads a DynamoDB index, which lags writes by a fraction of a second;
    jobs of one workspace dialed within that window by different workers may each miss the
    other. A deferred job reappears after its delay (at most 15 minutes, SQS's cap) and competes
    again; order among deferred jobs is not kept.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from typing import Any, Callable, Optional

from ..call_events import announce
from ..call_states import CallStatus
from ..carrier.base import Carrier, CarrierError, DialRequest
from ..errors import NotFound, ServiceUnavailable
from ..observability import get_logger
from ..settings import Settings
from ..store import calls as call_store
from ..store import dials as dial_store
from ..telephony_urls import call_hook_path, public_url
from .batch import DialBatch, prepare_batch
from .exceptions import DialRetryable
from .pacing import Pacer
from .types import DialJob, DialLimits, DialOutcome, DialResult

__all__ = ["Dialer", "CANCEL_RECHECK_S", "CLAIM_STALE_S", "FIND_CALL_SKEW_S", "TIME_LIMIT_MARGIN_S",
           "DEFAULT_MAX_DURATION_S"]

# The longest a live worker can hold a claim before it records the sid: the pacing wait
# (DialLimits.max_pace_wait_s, 20 s) plus the carrier request (the adapter's timeout, ~15 s) plus a
# margin. A claim older than this belongs to a worker that died.
CLAIM_STALE_S = 60
# find_call looks this much before the claim, for clock skew between us and the carrier.
FIND_CALL_SKEW_S = 5
# The carrier's hard time limit is the agent's max duration plus this, so the gateway's own
# max-duration goodbye always runs first and the carrier's cut is only a backstop.
TIME_LIMIT_MARGIN_S = 30
# When the agent has no max_duration_seconds (the gateway's default too).
DEFAULT_MAX_DURATION_S = 1800
# A job put back for the concurrency limit waits this long (plus jitter) before trying again.
CONCURRENCY_RETRY_S = 10
# SQS accepts DelaySeconds up to 15 minutes.
MAX_DELAY_S = 900
# A call last read longer ago than this is read again before it is dialed, in case it was canceled
# meanwhile (a slot some way off). Shorter waits are the common case at full pace (a batch's run of
# slots), where a read per call would be a fifth more store requests. A cancel that lands within
# the window still reaches a dialed call: the sid write sees it and hangs up before anyone answers.
CANCEL_RECHECK_S = 2.0

Requeue = Callable[[DialJob, int], None]


class Dialer:
    """Dials queued calls (see the module docstring).

    Parameters:
        settings: public_api_url (callbacks), gateway_url and the stream-token key (the TwiML:
            ``stream_token_secret``, or the secret ``signing_secret_arn`` names).
        carrier: the carrier port, or a zero-argument function building it on first use.
        requeue: puts a copy of a job back on the dial queue with a delay in seconds.
        pacer: the shared calls-per-second slots.
        limits: concurrency and pacing limits.
    """

    def __init__(self, *, settings: Settings, carrier: Carrier | Callable[[], Carrier], requeue: Requeue,
                 pacer: Pacer, limits: DialLimits, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._settings = settings
        self._carrier_source = carrier
        self._carrier: Optional[Carrier] = carrier if isinstance(carrier, Carrier) else None
        self._requeue = requeue
        self._pacer = pacer
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._carrier_lock = threading.Lock()
        self._log = get_logger("dialer")

    def prepare(self, jobs: list[DialJob]) -> DialBatch:
        """Read, claim, count and pace a batch's jobs together (:mod:`.batch`); hand the result to
        :meth:`dial` of each job. The jobs must then run side by side: their slots are consecutive."""

        def failed(step: str, error: Exception) -> None:
            self._log.warning("batch prelude stopped; the jobs go on one by one",
                              extra={"step": step, "error": repr(error)})

        return prepare_batch(jobs, pacer=self._pacer, max_concurrent_calls=self._limits.max_concurrent_calls,
                             clock=self._clock, on_step_failed=failed)

    @property
    def carrier(self) -> Carrier:
        """The carrier, built on first use."""
        if self._carrier is None:
            with self._carrier_lock:  # a batch's jobs all want it at once; build it once
                if self._carrier is None:
                    self._carrier = self._carrier_source()  # type: ignore[operator]
        return self._carrier

    # -- the job ------------------------------------------------------------------------------

    def dial(self, job: DialJob, batch: Optional[DialBatch] = None) -> DialResult:
        """Handle one dial job; raises :class:`DialRetryable` when SQS should deliver it again.

        ``batch``: the prelude of the job's batch (:meth:`prepare`), which may have done part of the work."""
        prepared = batch.take(job) if batch is not None else None
        if prepared is not None and prepared.over_limit:
            return self._defer_for_concurrency(job)
        if prepared is not None and prepared.attempt_id is not None and prepared.record is not None:
            return self._dial_claimed(job, prepared.record, prepared.attempt_id, read_at=prepared.read_at,
                                      counted=prepared.counted, slot_at=prepared.slot_at)
        if prepared is not None:
            record: Optional[call_store.CallRecord] = prepared.record
        else:
            try:
                record = call_store.get_call(job.workspace_id, job.call_id)
            except NotFound:
                record = None
        if record is None:
            self._log.warning("dial job for an unknown call", extra={"call_id": job.call_id})
            return DialResult(DialOutcome.SKIPPED, job.call_id, reason="unknown_call")
        # Two rounds: a lost claim race means someone else claimed in between; decide again on that.
        # Each write goes against the record last seen (no read of its own): a dial costs the
        # table one read and two conditional writes, plus the pacing slot.
        for _ in range(2):
            early = self._settled(job, record.doc)
            if early is not None:
                return early
            attempt_id = uuid.uuid4().hex
            claim = {"state": "dialing", "attempt_id": attempt_id, "claimed_at": int(self._clock())}
            write = dial_store.claim_dial(job.workspace_id, job.call_id, claim, current=record)
            if write.changed:
                return self._dial_claimed(job, write.record, attempt_id, read_at=self._clock())
            record = write.record
        return self._defer(job, CLAIM_STALE_S, "claim_contended")

    def _settled(self, job: DialJob, doc: dict[str, Any]) -> Optional[DialResult]:
        """The outcome when the call needs no new claim (not queued, dialed, or claimed), else None."""
        if doc["status"] != CallStatus.QUEUED.value:
            return DialResult(DialOutcome.SKIPPED, job.call_id, reason=f"status_{doc['status']}")
        dial = doc.get("dial")
        if not dial:
            return None
        if dial.get("state") != "dialing":
            return DialResult(DialOutcome.SKIPPED, job.call_id, reason="already_dialed",
                              carrier_sid=doc.get("carrier_sid"))
        age = self._clock() - float(dial.get("claimed_at") or 0)
        if age < CLAIM_STALE_S:
            # Another worker may still be dialing (or this is SQS's duplicate of its job): come back
            # once its claim would be stale, in case that worker dies; never drop the job.
            return self._defer(job, CLAIM_STALE_S - age + 1, "claim_in_flight")
        return self._recover(job, doc, dial)

    def _recover(self, job: DialJob, doc: dict[str, Any], dial: dict[str, Any]) -> DialResult:
        """A stale claim without a sid: learn from the carrier whether the dial got through."""
        claimed_at = int(dial.get("claimed_at") or 0)
        try:
            sid = self.carrier.find_call(to=doc["to_number"], from_=doc["from_number"],
                                         started_after=claimed_at - FIND_CALL_SKEW_S)
        except CarrierError as error:
            raise DialRetryable(f"the carrier could not be asked about call {job.call_id}: {error}") from error
        if sid is not None:
            self._record(job, str(dial.get("attempt_id")), sid)
            self._log.warning("interrupted dial recovered", extra={"call_id": job.call_id, "carrier_sid": sid})
            return DialResult(DialOutcome.RECOVERED, job.call_id, carrier_sid=sid)
        outcome = call_store.transition_call(job.workspace_id, job.call_id, CallStatus.FAILED,
                                             end_reason="error:dial_interrupted", ended_at=int(self._clock()),
                                             dial={**dial, "state": "interrupted"})
        announce(self._settings, job.workspace_id, outcome.doc)
        self._log.error("interrupted dial never reached the carrier; call failed",
                        extra={"call_id": job.call_id, "changed": outcome.changed})
        return DialResult(DialOutcome.FAILED, job.call_id, reason="error:dial_interrupted")

    def _dial_claimed(self, job: DialJob, record: call_store.CallRecord, attempt_id: str, *, read_at: float,
                      counted: bool = False, slot_at: Optional[float] = None) -> DialResult:
        """Dial a call we hold the claim on: check the concurrency cap and take a slot unless the
        batch prelude did (``counted``, ``slot_at``), wait for the slot, dial, record the sid."""
        if not counted:
            live = dial_store.count_live(job.workspace_id)  # includes this call: its claim made it live
            if live > self._limits.max_concurrent_calls:
                dial_store.release_dial(job.workspace_id, job.call_id, attempt_id)
                return self._defer_for_concurrency(job)
        try:
            # Everything but the carrier request is ready before the slot, so the call starts on it.
            request = self._request(job, record.doc)
            carrier = self.carrier
        except ServiceUnavailable as error:
            # The stream-token key or the public URL is missing or unreadable: nothing reached the
            # carrier, so the claim goes and the job is retried (a setting that stays missing
            # takes the job to the dead-letter queue, whose alarm tells the operator).
            dial_store.release_dial(job.workspace_id, job.call_id, attempt_id)
            raise DialRetryable(f"call {job.call_id} cannot be dialed yet: {error.message}") from error
        if slot_at is None:
            decision = self._pacer.reserve()
            if decision.defer_s is not None:
                dial_store.release_dial(job.workspace_id, job.call_id, attempt_id)
                return self._defer(job, decision.defer_s, "pacing")
            slot_at = decision.at
        wait_s = slot_at - self._clock()
        if wait_s > 0:
            self._sleep(wait_s)
        if self._clock() - read_at > CANCEL_RECHECK_S:
            # Canceled while we waited? Then give the slot up rather than place a call to hang up.
            record = call_store.get_call(job.workspace_id, job.call_id)
            if record.status != CallStatus.QUEUED.value:
                return DialResult(DialOutcome.SKIPPED, job.call_id, reason=f"status_{record.status}")
        try:
            sid = carrier.dial(request)
        except CarrierError as error:
            return self._dial_failed(job, attempt_id, error)
        recorded = self._record(job, attempt_id, sid, current=record)
        self._log.info("dialed", extra={"call_id": job.call_id, "carrier_sid": sid, "status": recorded["status"]})
        return DialResult(DialOutcome.DIALED, job.call_id, carrier_sid=sid)

    def _dial_failed(self, job: DialJob, attempt_id: str, error: CarrierError) -> DialResult:
        if not error.retryable:
            outcome = call_store.transition_call(
                job.workspace_id, job.call_id, CallStatus.FAILED, end_reason=error.reason,
                ended_at=int(self._clock()), dial={"state": "refused", "attempt_id": attempt_id, "code": error.code})
            announce(self._settings, job.workspace_id, outcome.doc)
            self._log.warning("carrier refused the call", extra={"call_id": job.call_id, "code": error.code,
                                                                  "reason": error.message})
            return DialResult(DialOutcome.FAILED, job.call_id, reason=error.reason)
        if error.status is not None:
            # The carrier answered (429, 5xx): it did not create the call, so the claim can go and
            # the redelivered job dials afresh.
            dial_store.release_dial(job.workspace_id, job.call_id, attempt_id)
        # Without an answer (timeout, connection reset) the call may exist: the claim stays, and the
        # redelivered job, finding it stale, asks the carrier (see the module docstring).
        raise DialRetryable(f"the carrier did not take call {job.call_id} ({error.message}); retried") from error

    def _record(self, job: DialJob, attempt_id: str, sid: str,
                current: Optional[call_store.CallRecord] = None) -> dict[str, Any]:
        """Write the sid; if the call was canceled while we dialed, hang the new call up.

        ``current``: the call as our claim wrote it. The carrier's first status callback often
        lands first (and also writes the sid); the conditional write then retries on fresh data."""
        now = int(self._clock())

        def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
            dial = doc.get("dial") or {}
            if doc.get("carrier_sid") == sid and dial.get("state") == "dialed":
                return None
            doc["carrier_sid"] = sid
            doc["dial"] = {**dial, "state": "dialed", "attempt_id": attempt_id, "dialed_at": now}
            if doc.get("started_at") is None:
                doc["started_at"] = now
            return doc

        written = dial_store.update_dial(job.workspace_id, job.call_id, change, current=current).doc
        if written["status"] == CallStatus.CANCELED.value:
            try:
                self.carrier.hang_up(sid)
            except CarrierError as error:
                self._log.error("a call canceled while it was dialed could not be hung up",
                                extra={"call_id": job.call_id, "carrier_sid": sid, "error": error.message})
        return written

    def _request(self, job: DialJob, doc: dict[str, Any]) -> DialRequest:
        from ..telephony import stream_twiml

        settings = self._settings
        twiml = stream_twiml(settings, job.workspace_id, job.call_id)
        max_duration = (doc.get("agent_snapshot") or {}).get("max_duration_seconds") or DEFAULT_MAX_DURATION_S
        return DialRequest(
            to=doc["to_number"],
            from_=doc["from_number"],
            twiml=twiml,
            status_callback_url=public_url(settings, call_hook_path(job.workspace_id, job.call_id, "status")),
            amd_callback_url=public_url(settings, call_hook_path(job.workspace_id, job.call_id, "amd")),
            ring_timeout_s=self._limits.ring_timeout_s,
            time_limit_s=int(max_duration) + TIME_LIMIT_MARGIN_S,
        )

    def _defer_for_concurrency(self, job: DialJob) -> DialResult:
        return self._defer(job, CONCURRENCY_RETRY_S + random.uniform(0, CONCURRENCY_RETRY_S), "concurrency_limit")

    def _defer(self, job: DialJob, delay_s: float, reason: str) -> DialResult:
        delay = min(MAX_DELAY_S, max(1, math.ceil(delay_s)))
        self._requeue(job, delay)
        self._log.info("dial deferred", extra={"call_id": job.call_id, "reason": reason, "delay_s": delay})
        return DialResult(DialOutcome.DEFERRED, job.call_id, reason=reason, delay_s=delay)
