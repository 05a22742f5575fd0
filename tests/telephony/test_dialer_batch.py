"""The dialer's batch prelude over the real store and queues, with the fake carrier: a batch's jobs
read, claimed, counted and paced together, and every job still dialing exactly once whatever the
prelude could not settle."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from callingbox.core.dialing import DialBatch, DialJob, DialOutcome
from tests.telephony.support import new_call


def _dial_side_by_side(dialer: Any, jobs: list[DialJob], batch: DialBatch) -> list[Any]:
    results: list[Any] = []
    lock = threading.Lock()

    def work(job: DialJob) -> None:
        result = dialer.dial(job, batch)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_a_batch_is_read_claimed_counted_and_paced_together(api: Any, workspace: Any, telephony: Any,
                                                             outbound_agent: dict) -> None:
    # GIVEN five queued calls, a canceled one, an unknown id and a repeat of the first job
    calls = [new_call(api, outbound_agent) for _ in range(5)]
    canceled = new_call(api, outbound_agent)
    api.post(f"/v1/calls/{canceled['id']}/cancel").raise_for_status()
    jobs = [DialJob(workspace.id, c["id"]) for c in calls]
    jobs += [DialJob(workspace.id, canceled["id"]), DialJob(workspace.id, "call_unknown"), jobs[0]]
    dialer = telephony.dialer(cps=10)
    # WHEN the prelude runs over the batch
    batch = dialer.prepare(jobs)
    # THEN each queued call is claimed, counted, and holds its own slot, 100 ms after the previous one
    entries = [batch.entries[(workspace.id, c["id"])] for c in calls]
    assert all(e.attempt_id and e.counted and e.slot_at is not None for e in entries)
    slots = [e.slot_at for e in entries]
    assert all(abs((b - a) - 0.1) < 1e-5 for a, b in zip(slots, slots[1:])), slots
    for call in calls:
        assert api.get(f"/v1/calls/{call['id']}").json()["dial"]["state"] == "dialing"
    # AND the canceled and the unknown call are only read
    assert batch.entries[(workspace.id, canceled["id"])].attempt_id is None
    assert batch.entries[(workspace.id, "call_unknown")].record is None
    assert telephony.carrier.dials == []
    # WHEN the jobs run side by side
    results = _dial_side_by_side(dialer, jobs, batch)
    # THEN each queued call was dialed once, no earlier than its slot; the others were not dialed
    by_to = {d.request.to: d for d in telephony.carrier.dials}
    assert sorted(by_to) == sorted(c["to_number"] for c in calls) and len(telephony.carrier.dials) == 5
    for call, slot in zip(calls, slots):
        assert by_to[call["to_number"]].at >= slot - 0.005
    outcomes = [(r.outcome.value, r.reason or "") for r in results]
    for expected in [("dialed", "")] * 5 + [("skipped", "status_canceled"), ("skipped", "unknown_call")]:
        outcomes.remove(expected)
    # AND the repeated job, without an entry of its own, found the claim or the dial and did not dial
    assert outcomes in ([("deferred", "claim_in_flight")], [("skipped", "already_dialed")])
    for call in calls:
        stored = api.get(f"/v1/calls/{call['id']}").json()
        assert stored["dial"]["state"] == "dialed" and stored["carrier_sid"] == by_to[call["to_number"]].sid


def test_claims_beyond_the_concurrency_cap_are_released_and_put_back(api: Any, workspace: Any, telephony: Any,
                                                                     outbound_agent: dict) -> None:
    # GIVEN a workspace allowed two live calls and a batch of three
    calls = [new_call(api, outbound_agent) for _ in range(3)]
    requeued: list = []
    dialer = telephony.dialer(max_concurrent=2, requeued=requeued)
    jobs = [DialJob(workspace.id, c["id"]) for c in calls]
    # WHEN the prelude counts its claims
    batch = dialer.prepare(jobs)
    # THEN the last claim is given back at once: the call is queued and unclaimed again
    over = batch.entries[(workspace.id, calls[2]["id"])]
    assert over.over_limit and over.attempt_id is None
    assert "dial" not in api.get(f"/v1/calls/{calls[2]['id']}").json()
    # AND its job is put back for later while the other two dial
    results = {r.call_id: r for r in _dial_side_by_side(dialer, jobs, batch)}
    assert results[calls[2]["id"]].outcome is DialOutcome.DEFERRED
    assert results[calls[2]["id"]].reason == "concurrency_limit"
    assert [job.call_id for job, _ in requeued] == [calls[2]["id"]]
    assert sorted(d.request.to for d in telephony.carrier.dials) == sorted(c["to_number"] for c in calls[:2])


def test_a_call_changed_after_the_read_loses_the_batch_claim_and_each_job_claims_alone(
        api: Any, workspace: Any, telephony: Any, outbound_agent: dict, monkeypatch: Any) -> None:
    from callingbox.core.dialing import batch as batch_module

    # GIVEN three queued calls, one of which is canceled just after the prelude has read it
    calls = [new_call(api, outbound_agent) for _ in range(3)]
    read = batch_module.call_store.get_calls

    def read_then_cancel(keys: Any) -> Any:
        records = read(keys)
        api.post(f"/v1/calls/{calls[1]['id']}/cancel").raise_for_status()
        return records

    monkeypatch.setattr(batch_module.call_store, "get_calls", read_then_cancel)
    dialer = telephony.dialer()
    jobs = [DialJob(workspace.id, c["id"]) for c in calls]
    # WHEN the prelude tries to claim the three together
    batch = dialer.prepare(jobs)
    monkeypatch.undo()
    # THEN the transaction wrote nothing: no call is claimed
    assert all(e.attempt_id is None for e in batch.entries.values())
    for call in calls:
        assert "dial" not in api.get(f"/v1/calls/{call['id']}").json()
    # AND the jobs, each on its own, dial the two queued calls once and skip the canceled one
    results = {r.call_id: r for r in _dial_side_by_side(dialer, jobs, batch)}
    assert results[calls[1]["id"]].outcome is DialOutcome.SKIPPED
    assert sorted(d.request.to for d in telephony.carrier.dials) == sorted(c["to_number"] for c in (calls[0], calls[2]))


def test_a_run_of_slots_beyond_the_horizon_leaves_each_job_to_pace_itself(api: Any, workspace: Any,
                                                                         telephony: Any, outbound_agent: dict) -> None:
    # GIVEN one call per second, at most one second of waiting, and a batch of three
    calls = [new_call(api, outbound_agent) for _ in range(3)]
    dialer = telephony.dialer(cps=1, max_pace_wait_s=1)
    jobs = [DialJob(workspace.id, c["id"]) for c in calls]
    # WHEN the prelude asks for three slots (two seconds of them) THEN it takes none
    batch = dialer.prepare(jobs)
    assert all(e.attempt_id and e.counted and e.slot_at is None for e in batch.entries.values())
    # AND the jobs take the slots within reach one by one: two dial a second apart, one is put back
    results = _dial_side_by_side(dialer, jobs, batch)
    assert sorted(r.outcome.value for r in results) == ["deferred", "dialed", "dialed"]
    [deferred] = [r for r in results if r.outcome is DialOutcome.DEFERRED]
    assert deferred.reason == "pacing" and "dial" not in api.get(f"/v1/calls/{deferred.call_id}").json()
    times = sorted(d.at for d in telephony.carrier.dials)
    assert times[1] - times[0] >= 1.0 - 0.08


def test_the_lambda_handler_dials_a_batch_side_by_side(api: Any, workspace: Any, telephony: Any,
                                                       outbound_agent: dict) -> None:
    from callingbox.local.workers import lambda_event
    from workers import dialer as dialer_worker

    # GIVEN six calls at 20 per second and a carrier that takes 200 ms per dial
    calls = [new_call(api, outbound_agent) for _ in range(6)]
    telephony.carrier.dial_delay_s = 0.2
    dialer_worker.install(telephony.dialer(cps=20))
    messages = [{"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Attributes": {"ApproximateReceiveCount": "1"},
                 "Body": f'{{"workspace_id": "{workspace.id}", "call_id": "{c["id"]}"}}'} for n, c in enumerate(calls)]
    try:
        # WHEN the Lambda handler runs the batch
        response = dialer_worker.handler(lambda_event(messages, queue_arn="arn:aws:sqs:us-east-1:1:q",
                                                      region="us-east-1"), None)
    finally:
        dialer_worker.install(None)
    # THEN every call was dialed once, in 50 ms slots
    assert response["batchItemFailures"] == []
    dialed = sorted(telephony.carrier.dials, key=lambda d: d.at)
    assert sorted(d.request.to for d in dialed) == sorted(c["to_number"] for c in calls)
    # AND side by side: one after another, five 200 ms dials alone would part the first and the last by 1 s
    assert dialed[-1].at - dialed[0].at < 0.9
    for a, b in zip(dialed, dialed[1:]):
        assert b.at - a.at >= 0.05 - 0.02


def test_the_table_slot_store_takes_a_run_of_slots_in_one_write(local_stack: Any) -> None:
    from callingbox.core.store.dials import read_slot, take_slot

    name, interval, horizon = f"run-{uuid.uuid4().hex}", 50_000, 1_000_000
    now = int(time.time() * 1_000_000)
    # WHEN idle, a run of three starts at now and the pacer points past it
    idle = take_slot(name, now=now, interval=interval, horizon=horizon, count=3)
    assert (idle.slot, idle.idle) == (now, True) and read_slot(name) == now + 3 * interval
    # AND a busy run follows it directly
    assert take_slot(name, now=now, interval=interval, horizon=horizon, count=4).slot == now + 3 * interval
    assert read_slot(name) == now + 7 * interval
    # AND a run whose last slot would pass the horizon is not taken, though its first would fit
    beyond = take_slot(name, now=now, interval=interval, horizon=horizon, count=15)
    assert (beyond.slot, beyond.next_free) == (None, now + 7 * interval)
    assert read_slot(name) == now + 7 * interval
    # AND one that just fits is
    assert take_slot(name, now=now, interval=interval, horizon=horizon, count=14).slot == now + 7 * interval


def test_a_slot_is_a_time_not_a_wait_measured_before_a_slow_store(local_stack: Any) -> None:
    from callingbox.core.dialing import DynamoSlotStore, Pacer
    from callingbox.core.dialing.pacing import Taken

    class SlowStore(DynamoSlotStore):
        """The table's slot store behind a slow link: every take answers 300 ms late."""

        def take(self, name: str, **kwargs: Any) -> Taken:
            taken = super().take(name, **kwargs)
            time.sleep(0.3)
            return taken

    # GIVEN a pacer at one call per second whose store answers 300 ms late
    name = f"slow-{uuid.uuid4().hex}"
    pacer = Pacer(SlowStore(), cps=1, max_wait_s=5, name=name)
    before = time.time()
    # WHEN it hands out a slot from idle, then a run of three
    first = pacer.reserve()
    run = pacer.reserve_run(3)
    # THEN the first slot is when it was taken (not 300 ms later), and the run follows it a second apart
    assert first.defer_s is None and before <= first.at < before + 0.3
    assert run is not None
    assert [round(at - first.at, 4) for at in run] == [1.0, 2.0, 3.0]


def test_a_call_canceled_while_its_slot_is_far_is_read_again_and_not_dialed(api: Any, workspace: Any,
                                                                           telephony: Any,
                                                                           outbound_agent: dict) -> None:
    from callingbox.core.dialing import CANCEL_RECHECK_S

    # GIVEN a batch of four at one call per second: the last slot lies three seconds out
    calls = [new_call(api, outbound_agent) for _ in range(4)]
    dialer = telephony.dialer(cps=1)
    jobs = [DialJob(workspace.id, c["id"]) for c in calls]
    batch = dialer.prepare(jobs)
    last = batch.entries[(workspace.id, calls[3]["id"])]
    assert last.slot_at is not None and last.slot_at - last.read_at > CANCEL_RECHECK_S
    # WHEN that call is canceled while the batch waits
    api.post(f"/v1/calls/{calls[3]['id']}/cancel").raise_for_status()
    results = {r.call_id: r for r in _dial_side_by_side(dialer, jobs, batch)}
    # THEN it is read again before its slot and skipped: never dialed, nothing to hang up
    assert (results[calls[3]["id"]].outcome, results[calls[3]["id"]].reason) == (DialOutcome.SKIPPED,
                                                                                 "status_canceled")
    assert sorted(d.request.to for d in telephony.carrier.dials) == sorted(c["to_number"] for c in calls[:3])
    assert telephony.carrier.hangups == []
