"""Added latency per turn: what the voice gateway adds to voice-to-voice time (issue 3).

Simulated callers speak over real websockets to the gateway in its own process, whose engines are
fakes of fixed latency (``gateway_harness``: STT final 150 ms after the last speech, LLM first
token 300 ms then 50 words/s, TTS first byte 100 ms per chunk). For each turn the caller measures
*voice to voice*: the send time of its last speech frame to the arrival of the first agent frame.

    added = voice to voice - endpointing silence (250 ms, the product default) - 300 ms - 100 ms

The STT's 150 ms is not subtracted: it runs inside the silence window (as in the Pipecat baseline
of the issue, +167 ms at p50 on one call). What remains is late endpointing, the wait for the first
speakable chunk and the gateway's own work — minus what the early start hides: the gateway starts
the model on the stable hypothesis (at 150 ms) instead of at the end of the silence (250 ms), so
part of the model's 300 ms overlaps the silence and the figure can be negative. The same single
call is also measured with the early start turned off (``CALLINGBOX_EARLY_START=false``): that is
the pipeline's cost with nothing hidden.

Figures: ``gateway.added_latency_p50_ms`` / ``_p99_ms`` at 50 concurrent calls (the goal: ≤ 30 /
≤ 60 ms), ``gateway.added_latency_1call_*`` at one call, ``gateway.added_latency_sequential_*`` at
one call without the early start; each printed with voice-to-voice and the sample count.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import Figures, figure
from .gateway_harness import ServerProcess, Turn, run_calls
from .percentiles import percentile

SILENCE_MS = 250
ONE_CALL_TURNS = 12
SEQUENTIAL_TURNS = 8
MANY_CALLS = 50
MANY_CALL_TURNS = 5


def _figures(prefix: str, turns: list[Turn], **info: Any) -> Figures:
    added = [turn.added_s * 1000 for turn in turns]
    v2v = [turn.voice_to_voice_s * 1000 for turn in turns]
    shared = {"n": len(turns), "voice_to_voice_p50_ms": round(percentile(v2v, 0.5)), **info}
    return {
        f"{prefix}_p50_ms": figure(percentile(added, 0.5), "ms", **shared),
        f"{prefix}_p99_ms": figure(percentile(added, 0.99), "ms", voice_to_voice_p99_ms=round(percentile(v2v, 0.99))),
    }


def run() -> Figures:
    """Three runs: 1 call and 50 calls with the product defaults, 1 call without the early start."""
    silence_s = SILENCE_MS / 1000
    with ServerProcess(silence_ms=SILENCE_MS) as server:
        one, _, _ = asyncio.run(run_calls(server.url, 1, turns=ONE_CALL_TURNS, silence_s=silence_s))
        many, callers, _ = asyncio.run(run_calls(server.url, MANY_CALLS, turns=MANY_CALL_TURNS, silence_s=silence_s,
                                                 ramp_s=3.0))
    with ServerProcess(silence_ms=SILENCE_MS, early_start=False) as server:
        sequential, _, _ = asyncio.run(run_calls(server.url, 1, turns=SEQUENTIAL_TURNS, silence_s=silence_s))
    lateness = [late * 1000 for caller in callers for late in caller.lateness_s]
    return {
        **_figures("gateway.added_latency", many, calls=MANY_CALLS,
                   late_frames=len(lateness), frames=sum(caller.frames_received for caller in callers)),
        **_figures("gateway.added_latency_1call", one, calls=1),
        **_figures("gateway.added_latency_sequential", sequential, calls=1, early_start=False),
    }
