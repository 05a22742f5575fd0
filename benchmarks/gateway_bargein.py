"""Barge-in: caller speech onset over agent audio -> ``clear`` received; backchannels never clear.

One call. Each trial: the caller asks for a long answer; 0.5 s into the agent's audio it says
"uh-huh" (120 ms, loud: below the default threshold's 200 ms); 1.5 s in it talks over the agent
(0.6 s, loud). The time from the send of its first barge-in frame to the arrival of ``clear`` is the
figure; a ``clear`` before that onset would be a backchannel that interrupted (counted), and agent
audio arriving between the ``clear`` and the end of the barge-in would be audio after the clear
(counted). At the default ``interruption_threshold`` (0.5) the rule needs 200 ms of voiced speech,
so about 180 ms after onset is the floor (see ``streaming_fargate/processors/bargein.py``).

Figures: ``gateway.bargein_clear_ms`` (median; goal ≤ 250 ms), ``gateway.bargein_false_clears``
(backchannels that cleared; goal 0), ``gateway.bargein_audio_after_clear`` (frames; goal 0).
"""

from __future__ import annotations

import asyncio
import time

from . import Figures, figure
from .gateway_harness import Caller, Line, ServerProcess, speech
from .percentiles import percentile

TRIALS = 15
BACKCHANNEL_AT_S = 0.5
BARGE_IN_AT_S = 1.5


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def _trials(url: str) -> tuple[list[float], int, int]:
    line = Line()
    line.start()
    caller = Caller(url, "call_barge_0001", keep_media_times=True)
    await caller.connect()
    line.callers.append(caller)
    question, backchannel, barge = speech(0.6), speech(0.12), speech(0.6)
    clear_ms: list[float] = []
    false_clears = audio_after_clear = 0
    for _ in range(TRIALS):
        await asyncio.wait_for(caller.quiet.wait(), 30)
        await asyncio.sleep(0.3)
        spoke = await caller.say(question)
        started = await asyncio.wait_for(caller.expect_reply(spoke), 10)
        clears_before = len(caller.clears)
        await _sleep_until(started + BACKCHANNEL_AT_S)
        await caller.say(backchannel)
        await _sleep_until(started + BARGE_IN_AT_S)
        false_clears += len(caller.clears) - clears_before
        ended = await caller.say(barge)
        onset = caller.speech_began or ended
        cleared = [at for at in caller.clears if at > onset]
        if cleared:
            clear_ms.append((cleared[0] - onset) * 1000)
            audio_after_clear += sum(1 for at in caller.media_times if cleared[0] < at <= ended)
        await asyncio.wait_for(caller.expect_reply(ended), 10)  # the answer to the barge-in
    await caller.hangup()
    await line.stop()
    return clear_ms, false_clears, audio_after_clear


def run() -> Figures:
    with ServerProcess() as server:
        clear_ms, false_clears, after_clear = asyncio.run(_trials(server.url))
    return {
        "gateway.bargein_clear_ms": figure(percentile(clear_ms, 0.5), "ms", p99_ms=round(percentile(clear_ms, 0.99), 1),
                                           n=len(clear_ms), trials=TRIALS),
        "gateway.bargein_false_clears": figure(false_clears, "count", backchannels=TRIALS),
        "gateway.bargein_audio_after_clear": figure(after_clear, "frames"),
    }
