"""First greeting: stream start -> first agent audio frame, for an agent with a ``first_message``.

Each call has an agent of its own (so each meets an empty greeting cache). Before the stream
starts, as the dialer would while the phone rings, the greeting is prewarmed with
``GET /prewarm?token=…``; the caller then sends ``connected`` + ``start`` and times the first
``media`` message. The fake TTS answers in 100 ms, so without the prewarm the greeting cannot
start sooner than that: those calls are measured too (``cold``, printed as info).

The call store is in memory here; against DynamoDB the consistent read of the call (a few
milliseconds) comes before the first frame as well.

Figure: ``gateway.first_greeting_ms`` (median over the prewarmed calls; goal ≤ 100 ms).
"""

from __future__ import annotations

import asyncio
import time

import httpx

from . import Figures, figure
from .gateway_harness import Caller, ServerProcess, token
from .percentiles import percentile

CALLS = 40
COLD_CALLS = 10
# What a ringing phone leaves at least: the greeting's synthesis has finished long before the answer.
RING_S = 0.3


async def _greeting_ms(url: str, port: int, index: int, *, prewarm: bool) -> float:
    caller = Caller(url, f"call_greet_{'warm' if prewarm else 'cold'}_{index:04d}")
    if prewarm:
        async with httpx.AsyncClient(trust_env=False) as http:
            answer = await http.get(f"http://127.0.0.1:{port}/prewarm", params={"token": token(caller.call_id)})
            assert answer.status_code == 202, answer.text
        await asyncio.sleep(RING_S)
    arrived = caller.expect_reply(0.0)
    await caller.connect()
    first = await asyncio.wait_for(arrived, 10)
    await caller.hangup()
    return (first - caller.started_at) * 1000


async def _measure(url: str, port: int) -> tuple[list[float], list[float]]:
    warm = [await _greeting_ms(url, port, i, prewarm=True) for i in range(CALLS)]
    cold = [await _greeting_ms(url, port, i, prewarm=False) for i in range(COLD_CALLS)]
    return warm, cold


def run() -> Figures:
    with ServerProcess() as server:
        began = time.monotonic()
        warm, cold = asyncio.run(_measure(server.url, server.port))
    return {
        "gateway.first_greeting_ms": figure(percentile(warm, 0.5), "ms", p99_ms=round(percentile(warm, 0.99), 1),
                                            n=len(warm), cold_p50_ms=round(percentile(cold, 0.5), 1),
                                            seconds=round(time.monotonic() - began, 1)),
    }
