"""EspeakTts: espeak-ng through ctypes, 8 kHz μ-law in ~100 ms chunks, voices, cancellation."""

from __future__ import annotations

import asyncio
import time

from callingbox.core.media.mulaw import SAMPLE_RATE, rms, ulaw_to_pcm16
from streaming_fargate.engines.local_tts import (
    CALLER_VOICE,
    CHUNK_MS,
    EspeakTts,
    resolve_voice,
    synthesize_ulaw,
)

SENTENCE = "Thank you for calling. Your table for four is booked for Friday evening at seven."
# One espeak callback is CHUNK_MS of audio; resampling may round a chunk up by a sample or two.
MAX_CHUNK_BYTES = SAMPLE_RATE * CHUNK_MS // 1000 + 8
FIRST_BYTE_BUDGET_S = 0.5  # generous for CI; measured figure is printed (a few milliseconds here)
# espeak's generator keeps some state between syntheses (waveform phase), so the same text is the
# same speech but not the same bytes: lengths agree to within this fraction plus 20 ms.
LENGTH_TOLERANCE = 0.03
LENGTH_SLACK_BYTES = SAMPLE_RATE // 50


def _same_length(a: bytes, b: bytes) -> bool:
    return abs(len(a) - len(b)) <= LENGTH_TOLERANCE * max(len(a), len(b)) + LENGTH_SLACK_BYTES


async def _collect(text: str, *, voice: str = "en-us", language: str = "en-US") -> list[bytes]:
    return [chunk async for chunk in EspeakTts().synthesize(text, voice=voice, language=language)]


def test_synthesize_ulaw_is_audible_speech_of_plausible_length() -> None:
    # GIVEN a short phrase WHEN synthesized
    audio = synthesize_ulaw("hello world")
    # THEN it is 0.5-3 s of 8 kHz μ-law with real signal in it
    assert SAMPLE_RATE // 2 <= len(audio) <= 3 * SAMPLE_RATE
    assert rms(ulaw_to_pcm16(audio)) > 500


def test_stream_arrives_in_small_chunks_matching_the_batch_audio() -> None:
    # WHEN a long sentence is streamed
    chunks = asyncio.run(_collect(SENTENCE))
    # THEN it comes as many ~100 ms pieces that add up to the batch synthesis
    assert len(chunks) > 20
    assert all(0 < len(chunk) <= MAX_CHUNK_BYTES for chunk in chunks)
    assert _same_length(b"".join(chunks), synthesize_ulaw(SENTENCE))


def test_first_chunk_arrives_early() -> None:
    async def first_byte_latency() -> float:
        stream = EspeakTts().synthesize(SENTENCE, voice="en-us", language="en-US")
        started = time.perf_counter()
        await stream.__anext__()
        elapsed = time.perf_counter() - started
        await stream.aclose()
        return elapsed

    asyncio.run(first_byte_latency())  # warm: the library loads once per process
    latency = asyncio.run(first_byte_latency())
    print(f"espeak first-byte latency: {latency * 1000:.1f} ms")
    assert latency < FIRST_BYTE_BUDGET_S


def test_polly_voice_name_falls_back_to_the_language_then_en_us() -> None:
    # GIVEN voice ids espeak does not know (Amazon Polly names) THEN the language, then en-us, decide
    assert resolve_voice("Joanna", "en-US") == "en-US"
    assert resolve_voice("Joanna", "xx-YY") == "en-us"
    assert resolve_voice("en-gb", "en-US") == "en-gb"
    assert resolve_voice("en-us+f2", "en-US") == "en-us+f2"
    # AND synthesis with a Polly name still speaks
    assert _same_length(b"".join(asyncio.run(_collect("yes", voice="Joanna"))), synthesize_ulaw("yes"))


def test_concurrent_syntheses_are_serialized_and_complete() -> None:
    texts = ("one", "two", "three", "four")

    async def many() -> list[bytes]:
        results = await asyncio.gather(*(_collect(text) for text in texts))
        return [b"".join(chunks) for chunks in results]

    for together, alone in zip(asyncio.run(many()), [synthesize_ulaw(text) for text in texts]):
        assert _same_length(together, alone)


def test_closing_the_stream_early_aborts_and_leaves_the_engine_usable() -> None:
    async def abandon() -> None:
        stream = EspeakTts().synthesize(SENTENCE * 5, voice="en-us", language="en-US")
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(abandon())
    # THEN the next synthesis is complete and unaffected
    assert _same_length(b"".join(asyncio.run(_collect("goodbye"))), synthesize_ulaw("goodbye"))


def test_the_caller_voice_says_the_same_text_with_the_same_bytes() -> None:
    # GIVEN other speech in between (the default voice's flutter state moves on)
    first = synthesize_ulaw("my name is john smith", voice=CALLER_VOICE)
    synthesize_ulaw(SENTENCE)
    streamed = b"".join(asyncio.run(_collect("my name is john smith", voice=CALLER_VOICE)))
    # THEN the caller voice is still byte-identical, streamed or not
    assert streamed == first == synthesize_ulaw("my name is john smith", voice=CALLER_VOICE)


def test_blank_text_yields_nothing() -> None:
    assert asyncio.run(_collect("  ")) == []
    assert synthesize_ulaw("") == b""
