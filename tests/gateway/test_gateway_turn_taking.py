"""Voice activity, barge-in and endpointing, frame by frame (no socket, no store)."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import pytest

from streaming_fargate.frames import (
    BackchannelFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CallerAudioFrame,
    InterruptionFrame,
    TranscriptFrame,
    TurnCommittedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    UserTurnFrame,
    Utterance,
)
from streaming_fargate.pipeline import CallContext, Direction
from streaming_fargate.processors.bargein import BargeIn, interruption_rule
from streaming_fargate.processors.endpointing import Endpointing
from streaming_fargate.processors.vad import VoiceActivity
from tests.gateway.fakes import Collector, run_frames

FLOOR = 400


BASE = 100.0  # arrival time of the first frame (these stages only compare times)


def audio(levels: list[int], *, start_ms: int = 0) -> Iterator[CallerAudioFrame]:
    """One 20 ms frame per level (only the RMS matters to these stages)."""
    for index, level in enumerate(levels):
        yield CallerAudioFrame(b"", level, BASE + index * 0.02, start_ms + index * 20)


def test_voice_activity_needs_two_voiced_frames_to_start_and_100_ms_to_stop() -> None:
    # GIVEN a click (one loud frame), then speech with a 60 ms gap, then silence
    levels = [3000, 0, 0] + [3000] * 5 + [0] * 3 + [3000] * 5 + [0] * 6
    above, below = asyncio.run(run_frames(VoiceActivity(speech_rms=FLOOR), list(audio(levels))))
    started, stopped = below.of(UserStartedSpeakingFrame), below.of(UserStoppedSpeakingFrame)
    # THEN the click is ignored, the short gap does not split the speech, and it stops once
    assert [frame.offset_ms for frame in started] == [60]
    assert len(stopped) == 1 and stopped[0].offset_ms == 320  # the end of the last voiced frame
    assert len(below.of(CallerAudioFrame)) == len(levels)


@pytest.mark.parametrize(("threshold", "voiced_ms", "level"), [(0.0, 100, 400), (0.5, 200, 1000), (1.0, 300, 1600)])
def test_interruption_threshold_maps_to_duration_and_loudness(threshold: float, voiced_ms: int, level: int) -> None:
    rule = interruption_rule(threshold, speech_rms=FLOOR)
    assert rule.min_voiced_ms == voiced_ms and rule.min_mean_rms == pytest.approx(level)


def barge_in(levels: list[int], *, bot_speaking: bool = True, threshold: float = 0.5) -> Collector:
    stage = BargeIn(threshold=threshold, speech_rms=FLOOR)

    async def scenario() -> Collector:
        below = Collector()
        stage.link(below)
        if bot_speaking:
            await stage.queue_frame(BotStartedSpeakingFrame(Utterance(1, "reply"), 0.0), Direction.UPSTREAM)
        for frame in audio(levels):
            await stage.queue_frame(frame)
        return below

    return asyncio.run(scenario())


def test_loud_speech_over_the_agent_interrupts_on_the_tenth_voiced_frame() -> None:
    below = barge_in([0] * 3 + [3000] * 20)
    interruptions = below.of(InterruptionFrame)
    assert len(interruptions) == 1  # once per run
    assert [frame for frame, _ in below.frames] == interruptions  # the audio itself stops here
    # the tenth voiced frame triggered it: 180 ms after the onset at frame 3
    assert interruptions[0].at == pytest.approx(BASE + (3 + 9) * 0.02)
    assert not below.of(BackchannelFrame)


@pytest.mark.parametrize("levels", [
    [3000] * 7 + [0] * 6,  # "uh-huh": 140 ms, loud
    [700] * 25 + [0] * 6,  # long but soft: below 2.5 × the floor on average
])
def test_backchannels_below_the_threshold_do_not_interrupt_and_are_reported(levels: list[int]) -> None:
    below = barge_in(levels)
    assert not below.of(InterruptionFrame)
    (backchannel,) = below.of(BackchannelFrame)
    voiced = sum(1 for level in levels if level >= FLOOR)
    assert (backchannel.start_ms, backchannel.end_ms) == (0, voiced * 20)


def test_speech_when_the_agent_is_silent_is_never_an_interruption() -> None:
    below = barge_in([3000] * 30 + [0] * 6, bot_speaking=False)
    assert not below.of(InterruptionFrame) and not below.of(BackchannelFrame)


def test_a_higher_threshold_needs_longer_speech() -> None:
    assert barge_in([3000] * 12 + [0] * 6, threshold=0.5).of(InterruptionFrame)
    assert not barge_in([3000] * 12 + [0] * 6, threshold=1.0).of(InterruptionFrame)


# -- endpointing ----------------------------------------------------------------------------------


def transcript(text: str, *, final: bool = False, stable: bool = False, start_ms: int = 0, end_ms: int = 500
               ) -> TranscriptFrame:
    return TranscriptFrame(text, final, stable or final, start_ms, end_ms, time.monotonic())


def spoke(end_ms: int = 500) -> list:
    now = time.monotonic()
    return [UserStartedSpeakingFrame(now, 0), UserStoppedSpeakingFrame(now, now, end_ms)]


def endpointing(silence_ms: int = 80, unstable_ms: int = 300) -> Endpointing:
    return Endpointing(silence_ms=silence_ms, unstable_silence_ms=unstable_ms, ctx=CallContext())


def test_a_stable_partial_starts_the_model_at_once_and_ends_the_turn_after_the_silence_without_a_final() -> None:
    async def scenario() -> None:
        stage, below = endpointing(), Collector()
        stage.link(below)
        began = time.monotonic()
        for frame in spoke() + [transcript("book a table", stable=True)]:
            await stage.queue_frame(frame)
        (speculative,) = below.of(UserTurnFrame)
        assert speculative.speculative and speculative.text == "book a table"
        turns = await below.wait_for(UserTurnFrame, 2)
        confirmed = turns[1]
        assert not confirmed.speculative and confirmed.text == "book a table"
        waited = confirmed.timings.endpoint_at - began
        assert 0.07 <= waited < 0.5  # the 80 ms window, no final needed
        assert confirmed.timings.stt_final_at is None
        await stage.stop()

    asyncio.run(scenario())


def test_an_unstable_partial_waits_for_the_longer_window() -> None:
    async def scenario() -> None:
        stage, below = endpointing(silence_ms=50, unstable_ms=250), Collector()
        stage.link(below)
        began = time.monotonic()
        for frame in spoke() + [transcript("book a")]:
            await stage.queue_frame(frame)
        (confirmed,) = await below.wait_for(UserTurnFrame)
        assert not confirmed.speculative and confirmed.timings.endpoint_at - began >= 0.24
        await stage.stop()

    asyncio.run(scenario())


def test_new_words_replace_the_speculation_and_the_turn_grows_until_it_is_committed() -> None:
    async def scenario() -> None:
        stage, below = endpointing(silence_ms=60), Collector()
        stage.link(below)
        await stage.queue_frame(transcript("I want to", final=True, end_ms=300))
        await stage.queue_frame(UserStartedSpeakingFrame(time.monotonic(), 400))  # caller keeps talking
        await stage.queue_frame(transcript("book a table", stable=True, start_ms=400, end_ms=900))
        await stage.queue_frame(UserStoppedSpeakingFrame(time.monotonic(), time.monotonic(), 900))
        turns = await below.wait_for(UserTurnFrame, 3)
        assert [(t.text, t.speculative) for t in turns] == [
            ("I want to", True), ("I want to book a table", True), ("I want to book a table", False)]
        # WHEN the reply becomes audible THEN a late final of the same segment adds nothing
        await stage.queue_frame(TurnCommittedFrame(turns[-1].turn), Direction.UPSTREAM)
        await stage.queue_frame(transcript("book a table.", final=True, start_ms=400, end_ms=900))
        # ... nor does one that revised a word the turn already used
        await stage.queue_frame(transcript("I want two", final=True, start_ms=0, end_ms=300))
        await asyncio.sleep(0.15)
        assert len(below.of(UserTurnFrame)) == 3
        await stage.stop()

    asyncio.run(scenario())


def test_transcripts_are_held_while_the_agent_speaks_and_backchannels_are_discarded() -> None:
    async def scenario() -> None:
        stage, below, above = endpointing(silence_ms=40), Collector(), Collector()
        above.link(stage)
        stage.link(below)
        await stage.queue_frame(BotStartedSpeakingFrame(Utterance(1, "reply"), 0.0), Direction.UPSTREAM)
        await stage.queue_frame(transcript("uh-huh", final=True, start_ms=1000, end_ms=1140))
        await stage.queue_frame(BackchannelFrame(1000, 1140))
        await stage.queue_frame(transcript("wait stop", final=True, start_ms=2000, end_ms=2400))
        assert not below.of(UserTurnFrame)  # held while the agent speaks
        # WHEN the caller barges in THEN the held speech becomes the turn, the backchannel does not
        await stage.queue_frame(InterruptionFrame(time.monotonic()))
        turns = await below.wait_for(UserTurnFrame, 2)
        assert {t.text for t in turns} == {"wait stop"}
        await stage.queue_frame(BotStoppedSpeakingFrame(0.0), Direction.UPSTREAM)
        assert above.of(BotStoppedSpeakingFrame)
        await stage.stop()

    asyncio.run(scenario())
