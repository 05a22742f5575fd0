"""Capacity: the gateway's CPU and memory per call, and how many calls one core holds in real time.

The gateway runs in its own process pinned to one CPU (with fixed-latency fake engines, see
``gateway_harness``); the simulated callers run in this process, pinned to the other CPUs. At each
level of concurrent calls — each caller speaking, waiting for the reply, listening to it, and
speaking again — the server's CPU time is read from ``/proc`` over a steady window and its resident
memory at the end of it. A level is *real time* when the p99 added latency (caller side) stays
within 50 ms of the single-call figure and fewer than 1 % of the agent's audio frames reach the
caller more than 20 ms after its speaker needed them (the gateway sends audio ahead, so a late
frame means it fell behind).

- ``gateway.calls_per_core``: the largest level (of 10, 50, 100, 150, 200 calls) that is real time
  on the one core, every smaller level being real time too. Each level is printed with the
  server's CPU and memory, the p99 growth (and the same from the gateway's own telemetry), the
  share of late frames, and the callers' CPU (if their process saturated its core, a level would
  fail for the callers' sake, not the gateway's).
- ``gateway.rss_mb_per_call``: (RSS at 100 calls - RSS at 10 calls) / 90. Each call records both
  sides in memory for its two-channel recording (16 KB a second), which dominates this figure.
- ``gateway.cpu_pct_per_call``: server CPU at 100 calls / 100, in % of one core.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Optional

from . import Figures, figure
from .gateway_harness import ServerProcess, Turn, run_calls
from .percentiles import percentile

# Concurrent calls, and how long each level is measured after its ramp: the small levels only give
# CPU and memory; the large ones decide real time, which needs enough turns for a steady p99.
WINDOWS_S = {10: 8.0, 50: 8.0, 100: 15.0, 150: 15.0, 200: 15.0}
LEVELS = tuple(WINDOWS_S)
SINGLE_CALL_WINDOW_S = 12.0
SILENCE_MS = 250
RAMP_S = 2.5
LATE_FRAME_S = 0.020
P99_MARGIN_MS = 50.0


async def _level(server: ServerProcess, calls: int, window_s: float) -> dict[str, Any]:
    began = time.monotonic()
    window_end = began + RAMP_S + window_s
    running = asyncio.ensure_future(run_calls(server.url, calls, turns=1000, silence_s=SILENCE_MS / 1000,
                                              ramp_s=RAMP_S, until=window_end))
    await asyncio.sleep(max(0.0, began + RAMP_S - time.monotonic()))
    cpu_start, wall_start, client_start = server.cpu_seconds(), time.monotonic(), time.process_time()
    await asyncio.sleep(max(0.0, window_end - time.monotonic()))
    wall = time.monotonic() - wall_start
    cpu_used = (server.cpu_seconds() - cpu_start) / wall
    client_cores = (time.process_time() - client_start) / wall
    rss = server.rss_mb()
    turns, callers, line = await running
    in_window = [turn for turn in turns if began + RAMP_S <= turn.at <= window_end]
    frames = sum(caller.frames_received for caller in callers)
    late = sum(1 for caller in callers for lateness in caller.lateness_s if lateness > LATE_FRAME_S)
    return {"calls": calls, "cores": cpu_used, "rss_mb": rss, "turns": in_window or turns,
            "late_share": late / frames if frames else 0.0, "client_cores": client_cores}


def _p99_added_ms(turns: list[Turn]) -> float:
    return percentile([turn.added_s * 1000 for turn in turns], 0.99)


def _server_p99_ms(level: dict[str, Any]) -> float:
    """p99 of the gateway's own first-audio time (its telemetry: last voiced frame in -> first frame out)."""
    return percentile([turn["first_audio_ms"] for turn in level["server_turns"] if turn["first_audio_ms"] is not None]
                      or [0.0], 0.99)


def run() -> Figures:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus: Optional[set[int]] = {cpus[0]} if len(cpus) > 1 else None
    own = os.sched_getaffinity(0)
    if server_cpus:
        os.sched_setaffinity(0, set(cpus[1:]))
    try:
        with ServerProcess(silence_ms=SILENCE_MS, cpus=server_cpus) as server:
            single = asyncio.run(_level(server, 1, SINGLE_CALL_WINDOW_S))
        single["server_turns"] = server.turns
        levels = []
        for calls in LEVELS:
            with ServerProcess(silence_ms=SILENCE_MS, cpus=server_cpus) as server:
                levels.append(asyncio.run(_level(server, calls, WINDOWS_S[calls])))
            levels[-1]["server_turns"] = server.turns
    finally:
        os.sched_setaffinity(0, own)
    single_p99 = _p99_added_ms(single["turns"])
    passing = []
    for level in levels:  # the largest level below which every level is real time
        if _p99_added_ms(level["turns"]) > single_p99 + P99_MARGIN_MS or level["late_share"] >= 0.01:
            break
        passing.append(level)
    best = passing[-1] if passing else levels[0]
    by_calls = {level["calls"]: level for level in levels}
    single_server_p99 = _server_p99_ms(single)
    info = {f"at_{level['calls']}": f"{level['cores'] * 100:.0f}%cpu/{level['rss_mb']:.0f}MB/"
                                    f"p99+{_p99_added_ms(level['turns']) - single_p99:.0f}ms"
                                    f"(server+{_server_p99_ms(level) - single_server_p99:.0f}ms)/"
                                    f"late{level['late_share'] * 100:.1f}%/client{level['client_cores'] * 100:.0f}%cpu"
            for level in levels}
    # Every level passed: the limit lies beyond what this machine's callers can drive; say so.
    beyond = bool(passing) and passing[-1] is levels[-1]
    return {
        "gateway.calls_per_core": figure(best["calls"] if passing else 0, "calls", at_least=beyond,
                                         cores_used=round(best["cores"], 2), pinned=server_cpus is not None, **info),
        "gateway.rss_mb_per_call": figure((by_calls[100]["rss_mb"] - by_calls[10]["rss_mb"]) / 90, "MB",
                                          rss_10_mb=round(by_calls[10]["rss_mb"], 1),
                                          rss_100_mb=round(by_calls[100]["rss_mb"], 1)),
        "gateway.cpu_pct_per_call": figure(by_calls[100]["cores"] / 100 * 100, "%", at_calls=100),
    }
