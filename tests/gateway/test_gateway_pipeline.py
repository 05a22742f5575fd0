"""The processor base: inline pass-through, queued stages, and how an interruption overtakes queued work."""

from __future__ import annotations

import asyncio
import time

from streaming_fargate.frames import (
    BotStoppedSpeakingFrame,
    DataFrame,
    EndCallFrame,
    Frame,
    InterruptionFrame,
    LlmTextFrame,
    Utterance,
)
from streaming_fargate.pipeline import TASK_CANCEL_TIMEOUT_S, Direction, Pipeline, Processor, QueuedProcessor
from tests.gateway.fakes import Collector


class Gate(QueuedProcessor):
    """Holds each data frame until released; can be told to swallow cancellation (a badly behaved engine)."""

    def __init__(self, *, stubborn: bool = False) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.stubborn = stubborn

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, DataFrame):
            self.started.set()
            if self.stubborn:
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    await asyncio.sleep(5)  # ignores the first cancellation for a while
            else:
                await self.release.wait()
        await self.push(frame, direction)


def text(n: int) -> LlmTextFrame:
    return LlmTextFrame(Utterance(1, "reply"), f"text {n}")


def test_a_linked_pipeline_passes_frames_through_inline() -> None:
    async def scenario() -> None:
        below = Collector()
        pipeline = Pipeline([Processor(), Processor(), below])
        await pipeline.start()
        frame = text(1)
        await pipeline.push(frame)  # inline: delivered before push returns
        assert below.of(LlmTextFrame) == [frame]
        await pipeline.stop()

    asyncio.run(scenario())


def test_system_frames_overtake_queued_data_and_control_keep_their_order() -> None:
    async def scenario() -> None:
        gate, below = Gate(), Collector()
        gate.link(below)
        await gate.start()
        frames = [text(1), text(2), text(3)]
        for frame in frames:
            await gate.queue_frame(frame)
        await asyncio.wait_for(gate.started.wait(), 2)
        urgent = BotStoppedSpeakingFrame(0.0)
        await gate.queue_frame(urgent)
        # THEN the system frame is through while the three data frames still wait
        assert [f for f, _ in below.frames] == [urgent]
        gate.release.set()
        await below.wait_for(LlmTextFrame, 3)
        assert below.of(LlmTextFrame) == frames
        await gate.stop()

    asyncio.run(scenario())


def test_interruption_drops_queued_frames_but_keeps_uninterruptible_ones() -> None:
    async def scenario() -> None:
        gate, below = Gate(), Collector()
        gate.link(below)
        await gate.start()
        hang_up = EndCallFrame("agent_hangup")
        for frame in (text(1), text(2), hang_up, text(3)):
            await gate.queue_frame(frame)
        await asyncio.wait_for(gate.started.wait(), 2)
        # WHEN an interruption arrives while text 1 is being processed
        interruption = InterruptionFrame(time.monotonic())
        await gate.queue_frame(interruption)
        gate.release.set()
        await below.wait_for(EndCallFrame)
        # THEN the interruption went straight through, no text survived, the hang-up did
        assert [f for f, _ in below.frames] == [interruption, hang_up]
        await gate.stop()

    asyncio.run(scenario())


def test_a_stage_that_swallows_cancellation_delays_an_interruption_by_a_bounded_time_only() -> None:
    async def scenario() -> None:
        gate, below = Gate(stubborn=True), Collector()
        gate.link(below)
        await gate.start()
        await gate.queue_frame(text(1))
        await asyncio.wait_for(gate.started.wait(), 2)
        began = time.monotonic()
        await gate.queue_frame(InterruptionFrame(began))
        waited = time.monotonic() - began
        # THEN the interruption passed downstream first, and the wait for the stuck work was bounded
        assert below.of(InterruptionFrame)
        assert waited < TASK_CANCEL_TIMEOUT_S + 0.3
        await gate.stop()

    asyncio.run(scenario())
