"""Dialer pacing: 1,000 calls queued against the local carrier at a 20 calls-per-second limit.

The local stack runs (embedded AWS, API with the carrier webhooks, the local Twilio stand-in driven
through the real Twilio SDK); every call goes to the stand-in's test number that answers and hangs
up at once, with no ring delay, so the dialer alone sets the pace. The 1,000 calls are created
through the API first (their dial jobs wait on the queue), then :data:`DIALERS` dialer pollers start,
as many as the deployed event source runs at once, sharing the account limit through the store. The
post-call workers (extraction, webhook delivery) stay off: their queues just fill, so the machine's
two cores go to what this measures.

The carrier's own record of each call (the stand-in's creation time) is the measurement:

- ``dialer.rate_error_pct``: over consecutive 10 s windows from the first dial (the last, partial
  window left out), the worst ``|calls in window / 10 s - CPS| / CPS`` in percent (goal ≤ 5);
- ``dialer.lost``: calls accepted by the API that did not end (in a final status) within the wait;
- ``dialer.duplicates``: carrier calls beyond one per CallingBox call (goal 0);
- ``dialer.concurrency_exceeded``: moments (sampled every 50 ms) when a workspace's live calls at the
  carrier exceeded its cap (goal 0). The cap (50) is what a modest account would set.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from callingbox.core.resources import DIAL_BATCH_SIZE, DIAL_CONCURRENCY

from . import Figures, figure, moto_scaling

CALLS = int(os.environ.get("BENCH_DIALER_CALLS", "1000"))
CPS = 20
WINDOW_S = 10.0
CAP = 50
CALLEE = "+15550100006"  # answers and hangs up at once (callingbox.local.carrier)
CREATE_THREADS = 6
SAMPLE_S = 0.05
DIALERS = DIAL_CONCURRENCY  # as many dialer pollers as a deployment runs dialer instances


def _call_id(record: Any) -> str:
    url = str(record.options.get("StatusCallback") or "")
    return url.rstrip("/").split("/")[-2] if "/twilio/calls/" in url else ""


def run() -> Figures:
    # The emulated AWS runs in a process of its own, as the real services do not share the
    # platform's interpreter (see moto_scaling: in one process it takes half the GIL).
    with moto_scaling.emulation_in_subprocess():
        return _run()


def _run() -> Figures:
    from callingbox.core.store.workspaces import create_workspace
    from callingbox.local.demo_numbers import seed_demo_numbers
    from callingbox.local.stack import start_local_stack

    from callingbox.core.settings import Settings
    from callingbox.local.workers import load_handler, start_queue_worker

    stack = start_local_stack(port=0, answer_delay_s=0.0, workers=False, extra_env={
        "CALLINGBOX_DIAL_CPS": str(CPS), "CALLINGBOX_MAX_CONCURRENT_CALLS": str(CAP)})
    dialers: list[Any] = []
    try:
        workspace, key = create_workspace("bench-dialer")
        seed_demo_numbers(str(workspace["id"]))
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, trust_env=False, timeout=30) as api:
            agent = api.post("/v1/agents", json={"name": "Bench", "type": "outbound", "instructions": "Hi.",
                                                 "number_ids": ["pn_abc123"], "primary_number_id": "pn_abc123"})
            agent.raise_for_status()
            agent_id = agent.json()["id"]
        carrier = stack.carrier
        peak: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            # Only the calls not yet seen ended are looked at again: a scan of every call each 50 ms
            # would grow with the run and take the GIL from what is measured.
            seen, live = 0, []
            while not stop.wait(SAMPLE_S):
                records = list(carrier.calls.values())
                live = [record for record in live + records[seen:] if not record.terminal]
                seen = len(records)
                peak.append(len(live))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        def create(index: int) -> str:
            with httpx.Client(base_url=stack.api_url, headers=headers, trust_env=False, timeout=30) as client:
                made = client.post("/v1/calls", json={"agent_id": agent_id, "to": CALLEE})
                made.raise_for_status()
                return str(made.json()["id"])

        started = time.monotonic()
        with ThreadPoolExecutor(CREATE_THREADS) as pool:
            call_ids = list(pool.map(create, range(CALLS)))
        created_s = time.monotonic() - started
        settings = Settings.from_env(stack.environment)
        handler = load_handler("dialer")
        dialers = [start_queue_worker(settings.queue_urls["dial"], handler, endpoint_url=settings.aws_endpoint_url,
                                      region=settings.region, name=f"dialer-{n}", batch_size=DIAL_BATCH_SIZE)
                   for n in range(DIALERS)]
        deadline = time.monotonic() + CALLS / CPS * 2 + 60
        accepted = set(call_ids)
        while time.monotonic() < deadline:
            if sum(1 for r in list(carrier.calls.values()) if r.terminal) >= len(accepted):
                ended = {_call_id(r) for r in list(carrier.calls.values()) if r.terminal}
                if accepted <= ended:
                    break
            time.sleep(0.5)
        stop.set()
        sampler.join()
        records = [r for r in list(carrier.calls.values()) if _call_id(r) in accepted]
        per_call = collections.Counter(_call_id(r) for r in records)
        ended = {_call_id(r) for r in records if r.terminal}
        dialed = sorted(r.status_history[0][0] for r in records)
        first = dialed[0]
        windows = int((dialed[-1] - first) // WINDOW_S)
        counts = [sum(1 for t in dialed if first + w * WINDOW_S <= t < first + (w + 1) * WINDOW_S) for w in range(windows)]
        errors = [abs(c / WINDOW_S - CPS) / CPS * 100 for c in counts]
        # The first seconds one by one: how fast the dialers reach the limit from a standing start.
        ramp = [sum(1 for t in dialed if first + n <= t < first + n + 1) for n in range(int(WINDOW_S))]
        with httpx.Client(base_url=stack.api_url, headers=headers, trust_env=False, timeout=30) as api:
            statuses = collections.Counter()
            for call_id in call_ids[:: max(1, CALLS // 50)]:  # a sample of the API's view
                statuses[api.get(f"/v1/calls/{call_id}").json()["status"]] += 1
    finally:
        for dialer in dialers:
            dialer.stop()
        stack.stop()
    overall = len(dialed) / (dialed[-1] - first) if len(dialed) > 1 else 0.0
    return {
        "dialer.sustained_cps": figure(overall, "calls/s", limit=CPS, calls=CALLS, dialers=DIALERS),
        "dialer.rate_error_pct": figure(max(errors) if errors else 100.0, "%", cps=CPS, windows=counts,
                                        overall_cps=round(overall, 2), created_in_s=round(created_s, 1),
                                        first_seconds=ramp),
        "dialer.lost": figure(len(accepted - ended), "calls", accepted=len(accepted), api_sample=dict(statuses)),
        "dialer.duplicates": figure(sum(n - 1 for n in per_call.values()), "calls"),
        "dialer.concurrency_exceeded": figure(sum(1 for live in peak if live > CAP), "samples", cap=CAP,
                                              peak=max(peak) if peak else 0),
    }
