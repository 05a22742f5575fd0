"""PocketsphinxStt on what the local stack really carries: espeak speech -> 8 kHz μ-law -> PCM.

The key check: phrases a caller says, synthesized by EspeakTts, are recognized with the hints a
call would give (the agent's enum options and a context name). The caller speaks with
CALLER_VOICE, whose audio is the same bytes every time, and recognition is deterministic for
given audio (fixed endpointer frames, no wall-clock dependence), so these results do not flake.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from callingbox.core.media.mulaw import FRAME_BYTES, SAMPLE_RATE, ulaw_to_pcm16
from streaming_fargate.engines.local_stt import PocketsphinxStt
from streaming_fargate.engines.local_stt_grammar import build_grammar
from streaming_fargate.engines.local_tts import CALLER_VOICE, EspeakTts
from streaming_fargate.engines.stt import Transcript

# What a call with returns {"outcome": ["booked", "declined"]} and context {"customer": "John Smith"}
# passes as hints (see builtin_dialogue.speech_hints).
CALL_HINTS = ("booked", "declined", "John Smith")
PADDING_S = 0.5  # silence before and after the phrase, as on a line between turns
CHUNK_BYTES = FRAME_BYTES * 2  # 20 ms of PCM16, the carrier's frame size
RTF_BUDGET = 0.5  # generous for CI; the measured figure is printed (about 0.05 here)


async def _speech(text: str) -> bytes:
    ulaw = b"".join([chunk async for chunk in EspeakTts().synthesize(text, voice=CALLER_VOICE, language="en-US")])
    silence = b"\0\0" * int(SAMPLE_RATE * PADDING_S)
    return silence + ulaw_to_pcm16(ulaw) + silence


async def _recognize(pcm: bytes, hints: tuple[str, ...]) -> tuple[list[Transcript], float]:
    session = await PocketsphinxStt().open(language="en-US", hints=hints)
    results: list[Transcript] = []

    async def read() -> None:
        async for transcript in session.results():
            results.append(transcript)

    reader = asyncio.create_task(read())
    started = time.perf_counter()
    for offset in range(0, len(pcm), CHUNK_BYTES):
        await session.send_audio(pcm[offset:offset + CHUNK_BYTES])
    await session.close()
    elapsed = time.perf_counter() - started
    await asyncio.wait_for(reader, 5)
    return results, elapsed


@pytest.mark.parametrize(("said", "expected"), [
    ("yes", "yes"),
    ("no", "no"),
    ("my name is john smith", "john smith"),
    ("tomorrow", "tomorrow"),
    ("twenty three", "twenty three"),
    ("three", "three"),
    ("next friday", "next friday"),
    ("declined", "declined"),
])
def test_synthesized_caller_phrases_are_recognized(said: str, expected: str) -> None:
    async def scenario() -> tuple[list[Transcript], float, float]:
        pcm = await _speech(said)
        results, elapsed = await _recognize(pcm, CALL_HINTS)
        return results, elapsed, len(pcm) / (2 * SAMPLE_RATE)

    results, elapsed, duration = asyncio.run(scenario())
    finals = [r for r in results if r.is_final]
    print(f"{said!r}: finals={[r.text for r in finals]} rtf={elapsed / duration:.3f}")
    # THEN exactly one final, with the expected words, after the partials
    assert len(finals) == 1 and results[-1] is finals[0]
    assert re.search(rf"\b{expected}\b", finals[0].text), finals[0].text
    assert finals[0].stable
    assert 0 < finals[0].start_ms < finals[0].end_ms <= duration * 1000 + 1
    assert elapsed / duration < RTF_BUDGET


def test_partials_come_first_and_a_held_partial_is_marked_stable() -> None:
    async def scenario() -> list[Transcript]:
        results, _ = await _recognize(await _speech("tomorrow"), CALL_HINTS)
        return results

    results = asyncio.run(scenario())
    partials = [r for r in results if not r.is_final]
    assert partials and all(not r.is_final for r in results[:-1])
    stable = [r for r in partials if r.stable]
    assert stable and stable[-1].text == "tomorrow"
    # a stable partial repeats text that was already sent unstable
    assert any(r.text == stable[-1].text and not r.stable for r in partials)
    assert [r.end_ms for r in results] == sorted(r.end_ms for r in results)


def test_two_utterances_in_one_session_give_two_finals() -> None:
    async def scenario() -> list[Transcript]:
        audio = await _speech("yes") + await _speech("booked")
        results, _ = await _recognize(audio, CALL_HINTS)
        return [r for r in results if r.is_final]

    finals = asyncio.run(scenario())
    assert [r.text for r in finals] == ["yes", "booked"]
    assert finals[0].end_ms <= finals[1].start_ms


def test_without_hints_the_general_model_runs() -> None:
    async def scenario() -> list[Transcript]:
        results, _ = await _recognize(await _speech("yes"), ())
        return results

    # The general model is weak on narrowband synthetic speech; it must still produce a final.
    assert [r for r in asyncio.run(scenario()) if r.is_final]


def test_silence_only_and_early_close_end_the_results_cleanly() -> None:
    async def scenario() -> list[Transcript]:
        results, _ = await _recognize(b"\0\0" * SAMPLE_RATE, CALL_HINTS)
        return results

    assert asyncio.run(scenario()) == []


def test_close_mid_utterance_flushes_a_final() -> None:
    async def scenario() -> list[Transcript]:
        pcm = await _speech("my name is john smith")
        cut = len(pcm) - int(SAMPLE_RATE * PADDING_S) * 2  # no trailing silence: the caller hangs up
        results, _ = await _recognize(pcm[:cut], CALL_HINTS)
        return results

    finals = [r for r in asyncio.run(scenario()) if r.is_final]
    assert len(finals) == 1 and "john" in finals[0].text


def test_grammar_keeps_known_words_and_drops_unknown_ones() -> None:
    grammar = build_grammar(("John Smith", "Zyxqu plumbing", "booked!"), lambda word: word != "zyxqu")
    assert "<hint> = john smith | plumbing | booked;" in grammar
    assert "public <utterance>" in grammar
    assert "<hint>" not in build_grammar((), lambda word: True)
