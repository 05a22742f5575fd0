"""``send_dtmf`` over a real websocket: the keys are found in the audio the caller's side played,
with a Goertzel detector written here (independent of how the gateway makes the tones)."""

from __future__ import annotations

import asyncio
import json
import math
from array import array
from itertools import pairwise
from typing import Any, Optional

import pytest

from callingbox.core.media import mulaw
from callingbox.core.store.transcripts import list_segments
from streaming_fargate.engines.llm import Message, TextDelta, ToolCall
from tests.gateway.fakes import (
    FakeEngines,
    FakeLlm,
    FakeStt,
    eventually,
    media_client,
    place_call,
    running_gateway,
    stream_token,
    voiced_ulaw,
)

pytestmark = pytest.mark.integration

ROWS = (697, 770, 852, 941)
COLUMNS = (1209, 1336, 1477)
KEYPAD = ("123", "456", "789", "*0#")
BLOCK = 160  # 20 ms at 8 kHz: 50 Hz bins, far narrower than the spacing of the DTMF frequencies


def goertzel_amplitude(samples: list[int], frequency: float) -> float:
    """The amplitude of ``frequency`` in ``samples`` (8 kHz), by the Goertzel recurrence."""
    coefficient = 2 * math.cos(2 * math.pi * frequency / 8000)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    power = previous * previous + before * before - coefficient * previous * before
    return 2 * math.sqrt(max(power, 0.0)) / len(samples)


def classify(samples: list[int]) -> Optional[str]:
    """The key in this block, "speech" for other sound, or None for silence."""
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    if rms < 300:
        return None
    rows = [goertzel_amplitude(samples, f) for f in ROWS]
    columns = [goertzel_amplitude(samples, f) for f in COLUMNS]
    row, column = max(range(4), key=rows.__getitem__), max(range(3), key=columns.__getitem__)
    strong = rows[row] > 0.5 * rms and columns[column] > 0.5 * rms
    clean = (sorted(rows)[-2] < 0.25 * rows[row]) and (sorted(columns)[-2] < 0.25 * columns[column])
    return KEYPAD[row][column] if strong and clean else "speech"


def is_key(kind: Optional[str]) -> bool:
    return kind not in (None, "speech")


def merged(blocks: list[Optional[str]]) -> list[tuple[Optional[str], int]]:
    found: list[tuple[Optional[str], int]] = []
    for kind in blocks:
        if found and found[-1][0] == kind:
            found[-1] = (kind, found[-1][1] + 20)
        else:
            found.append((kind, 20))
    return found


def runs(ulaw: bytes) -> list[tuple[Optional[str], int]]:
    """Consecutive 20 ms blocks with the same class: ``[(class, milliseconds), ...]``.

    A block that holds the edge of a tone (part tone, part silence) has a smeared spectrum and reads
    as "speech"; one such block beside a key is taken as silence, as a real detector's
    minimum-duration rule would.
    """
    pcm = array("h", mulaw.ulaw_to_pcm16(ulaw))
    blocks = [classify(list(pcm[start:start + BLOCK])) for start in range(0, len(pcm) - BLOCK + 1, BLOCK)]
    found = merged(blocks)
    for index, (kind, ms) in enumerate(found):
        beside_key = any(0 <= other < len(found) and is_key(found[other][0]) for other in (index - 1, index + 1))
        if kind == "speech" and ms == 20 and beside_key:
            found[index] = (None, ms)
    return merged([kind for kind, ms in found for _ in range(ms // 20)])


def keys(found: list[tuple[Optional[str], int]]) -> str:
    return "".join(kind for kind, _ in found if is_key(kind))


def press(digits: str, *, then: str = "Done.") -> Any:
    def reply(messages: list[Message]) -> Any:
        if messages[-1].role == "tool":
            return then
        return [TextDelta("Okay."), ToolCall("t1", "send_dtmf", {"digits": digits})]

    return reply


def run_call(workspace: Any, call_id: str, engines: FakeEngines, expected_text: str, *, tone_chunks: int) -> Any:
    """The caller asks once; the test hangs up once the agent's whole reply has played."""

    async def scenario() -> Any:
        async with running_gateway(engines) as gateway:
            client = await media_client(gateway.url, stream_token(workspace.id, call_id)).connect()
            await client.play(voiced_ulaw(0.5))
            await eventually(lambda: len(engines.llm.requests) == 2
                             and engines.llm.requests[1].outcome == "completed", 10)
            await eventually(lambda: " ".join(text for text in engines.tts.requests) == expected_text, 10)
            # every chunk (speech and tones) got its mark back: all of it played
            await eventually(lambda: len({e.name for e in client.received_events if e.event == "mark"})
                             == len(client.marks_echoed) == len(engines.tts.requests) + tone_chunks, 15)
            await client.hangup()
            await eventually(lambda: gateway.open_streams == 0, 10)
        return client

    return asyncio.run(scenario())


def test_send_dtmf_plays_the_keys_in_order_between_the_speech(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["press one then pound"]), llm=FakeLlm(press("1w#90*")))
    client = run_call(workspace, call_id, engines, "Okay. Done.", tone_chunks=1)

    found = runs(client.heard_audio)
    assert keys(found) == "1#90*"
    sounds = [(kind, ms) for kind, ms in found if kind is not None]
    assert sounds[0][0] == "speech" and sounds[-1][0] == "speech"  # "Okay." before the keys, "Done." after
    assert [kind for kind, _ in sounds[1:-1]] == list("1#90*")
    for kind, ms in sounds[1:-1]:
        assert 80 <= ms <= 120, (kind, ms)  # ~100 ms per key (20 ms blocks straddle its edges)
    silences = [ms for kind, ms in found if kind is None]
    tones_at = [index for index, (kind, _) in enumerate(found) if is_key(kind)]
    between = [sum(ms for kind, ms in found[a + 1:b] if kind is None) for a, b in pairwise(tones_at)]
    assert 480 <= between[0] <= 620  # 'w': half a second (plus the gap) between 1 and #
    assert all(40 <= gap <= 100 for gap in between[1:]), between  # ~70 ms between keys
    assert silences  # (the detector does see silence: the test can tell gaps apart)
    tool_result = engines.llm.requests[1].messages[-1]
    assert (tool_result.role, tool_result.tool_call_id, json.loads(tool_result.content)) == ("tool", "t1", "sent")
    assert [(s["party"], s["text"]) for s in list_segments(workspace.id, call_id)] == [
        ("caller", "press one then pound"), ("agent", "Okay. [DTMF 1w#90*] Done.")]


def test_invalid_digits_are_refused_to_the_model_and_nothing_is_played(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["press a"]), llm=FakeLlm(press("12a", then="I cannot press that.")))
    client = run_call(workspace, call_id, engines, "Okay. I cannot press that.", tone_chunks=0)
    assert keys(runs(client.heard_audio)) == ""
    error = json.loads(engines.llm.requests[1].messages[-1].content)["error"]
    assert "0-9" in error and "'12a'" in error


def test_the_detector_finds_nothing_in_speech_and_each_key_alone() -> None:
    from tests.gateway.fakes import FakeTts

    async def speech() -> bytes:
        return b"".join([piece async for piece in FakeTts().synthesize("Some words.", voice="v", language="en-US")])

    assert keys(runs(asyncio.run(speech()))) == ""
    assert keys(runs(voiced_ulaw(1.0))) == ""
    from streaming_fargate.dtmf import dtmf_audio

    assert keys(runs(dtmf_audio("0123456789*#"))) == "0123456789*#"
