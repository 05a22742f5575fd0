"""What the gateway benchmarks share: the gateway in its own process with fixed-latency fake engines,
and simulated callers speaking the Media Streams protocol over real websockets.

The server (``python -m benchmarks.gateway_harness --port N``) is the product's :class:`Gateway`
with an in-memory call store that knows every call a valid stream token names, and per call the
test fakes (``tests/gateway/fakes.py``) at the latencies issue 3 fixes:

- STT: partials while the caller speaks, the whole text stable *and* final 150 ms after the last
  voiced frame arrived (the fake says nothing earlier that the gateway could act on);
- LLM: first token 300 ms after the request, then 50 words a second;
- TTS: first audio 100 ms after each chunk's request, 65 ms of speech per character (about 15
  characters a second, ordinary speech).

The callers run in the benchmark's process: one ticker sends every caller's 20 ms frame (speech
or silence, as a phone line does) on a monotonic schedule, and one reader per call plays the
gateway's audio out in real time, echoes marks when their audio has played and honours ``clear``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
SECRET = "benchmark-stream-secret"
STT_FINAL_S = 0.150
LLM_FIRST_TOKEN_S = 0.300
LLM_WORDS_PER_S = 50.0
TTS_FIRST_BYTE_S = 0.100
TTS_MS_PER_CHAR = 65.0
# The fakes' share of every turn (issue 3): what remains of voice-to-voice after it is the gateway's.
FAKES_S = LLM_FIRST_TOKEN_S + TTS_FIRST_BYTE_S
# Replies of ordinary length; their first speakable chunks are 1, 3 and 2 words long.
REPLIES = (
    "Sure, Tuesday at ten works.",
    "Thanks for waiting. It shipped today.",
    "I understand. Let me check that.",
)
LONG_REPLY = ("Let me tell you everything about the clinic, from the opening hours to the parking, "
              "the doctors on call this week, and what to bring to your first appointment. ") * 3
GREETING = "Hello, this is Ana from the clinic. Is now a good time?"
FRAME_S = 0.02
PHASES = 10  # caller frame grids spread over the 20 ms period, 2 ms apart


# -- the server process ---------------------------------------------------------------------------


def _serve(port: int, silence_ms: int, early_start: bool, latency_file: Optional[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from callingbox.core.errors import NotFound
    from callingbox.core.settings import Settings
    from streaming_fargate.server import Gateway, tune_runtime
    from streaming_fargate.settings import GatewaySettings, TurnTaking
    from tests.gateway.fakes import FakeEngines, FakeLlm, FakeStt, FakeTts, MemoryCallStore

    class BenchStore(MemoryCallStore):
        """Every call a valid token names exists (ringing); its id picks the scenario (``greet``, ``barge``)."""

        def get_call(self, workspace_id: str, call_id: str) -> dict[str, Any]:
            try:
                return super().get_call(workspace_id, call_id)
            except NotFound:
                # a greeting call gets an agent of its own, so that each one meets a cold greeting cache
                agent = {"id": f"agent_{call_id}" if "greet" in call_id else "agent_bench", "persona": "You are a benchmark.", "language": "en-US", "tools": [],
                         "interruption_threshold": 0.5, "context_window": 10, "max_duration_seconds": 3600,
                         "first_message": GREETING if "greet" in call_id else None,
                         "instructions": "barge" if "barge" in call_id else "turns"}
                self.add(workspace_id, {"id": call_id, "status": "ringing", "agent_snapshot": agent, "context": {},
                                        "answered_at": None, "started_at": None, "latency": []})
                return super().get_call(workspace_id, call_id)

        # A real store keeps nothing in the gateway's memory: neither may this one (only the latency).
        def save_recording(self, workspace_id: str, call_id: str, caller_ulaw: bytes, agent_ulaw: bytes) -> None:
            pass  # built in memory during the call like in production; not kept after it

        def append_segment(self, *args: Any, **kwargs: Any) -> None:
            pass

        def update_segment(self, *args: Any, **kwargs: Any) -> None:
            pass

        def append_latency(self, workspace_id: str, call_id: str, entry: dict[str, Any]) -> None:
            with self._lock:
                turns.append(entry)

    def turns_reply(messages: list[Any]) -> str:
        return REPLIES[(sum(1 for m in messages if m.role == "user") - 1) % len(REPLIES)]

    def barge_reply(messages: list[Any]) -> str:
        return LONG_REPLY if "long" in messages[-1].content else "Okay, I will stop."

    def engines(snapshot: Any) -> FakeEngines:
        barge = snapshot.get("instructions") == "barge"
        # a barge-in trial is a question, a backchannel and the barge-in itself
        script = ("tell me the long version", "uh-huh", "please stop there") if barge \
            else ("I would like to change my appointment",)
        return FakeEngines(
            stt=FakeStt(script, stable_after_ms=round(STT_FINAL_S * 1000), final_after_ms=round(STT_FINAL_S * 1000)),
            llm=FakeLlm(barge_reply if barge else turns_reply, first_token_s=LLM_FIRST_TOKEN_S,
                        words_per_s=LLM_WORDS_PER_S, keep_requests=False),
            tts=FakeTts(first_byte_s=TTS_FIRST_BYTE_S, ms_per_char=TTS_MS_PER_CHAR),
        )

    settings = GatewaySettings(core=Settings(), host="127.0.0.1", port=port, drain_seconds=5,
                               stream_token_secret=SECRET.encode(),
                               turn_taking=TurnTaking(endpoint_silence_ms=silence_ms, early_start=early_start,
                                                      reprompt_after_s=600))
    turns: list[dict[str, Any]] = []  # the gateway's own per-turn telemetry, written out at exit
    tune_runtime()  # as ``python -m streaming_fargate`` does
    asyncio.run(Gateway(settings, engines=engines, store=BenchStore()).serve())
    if latency_file:
        Path(latency_file).write_text(json.dumps(turns))


class ServerProcess:
    """The gateway in a child process (optionally pinned to CPUs), with its CPU time and memory."""

    def __init__(self, *, silence_ms: int = 250, early_start: bool = True, cpus: Optional[set[int]] = None) -> None:
        from callingbox.local.aws import free_port

        self.port = free_port()
        self.silence_ms = silence_ms
        self._latency_file = Path(tempfile.mkstemp(prefix="gateway-latency-", suffix=".json")[1])
        self.turns: list[dict[str, Any]] = []
        """The gateway's own latency entries (``TurnTimings.entry``), read when it stops."""
        command = [sys.executable, "-m", "benchmarks.gateway_harness", "--port", str(self.port),
                   "--silence-ms", str(silence_ms), "--latency-file", str(self._latency_file)] \
            + ([] if early_start else ["--no-early-start"])
        env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/media"

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the gateway did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mb(self) -> float:
        """Resident memory now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._latency_file.exists():
            text = self._latency_file.read_text()
            self.turns = json.loads(text) if text else []
            self._latency_file.unlink()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def token(call_id: str) -> str:
    from callingbox.core.stream_tokens import sign_stream_token

    return sign_stream_token(SECRET.encode(), workspace_id="ws_bench", call_id=call_id, ttl_s=3600)


# -- the callers ----------------------------------------------------------------------------------

_ids = itertools.count(1)


def speech(seconds: float, level: int = 3000) -> list[bytes]:
    """Voiced 20 ms frames."""
    sys.path.insert(0, str(ROOT))
    from tests.gateway.fakes import voiced_ulaw

    audio = voiced_ulaw(seconds, level=level)
    return [audio[i:i + 160].ljust(160, b"\xff") for i in range(0, len(audio), 160)]


@dataclass
class Caller:
    """One simulated phone line."""

    url: str
    call_id: str
    ws: Any = None
    side: Any = None
    speech: deque = field(default_factory=deque)
    speech_done: Optional[asyncio.Future] = None
    speech_began: Optional[float] = None
    started_at: float = 0.0
    # receiving
    play_clock: float = 0.0
    reply_after: Optional[float] = None
    first_audio: Optional[asyncio.Future] = None
    in_reply: bool = False
    lateness_s: list[float] = field(default_factory=list)
    frames_received: int = 0
    pending_marks: dict = field(default_factory=dict)
    quiet: asyncio.Event = field(default_factory=asyncio.Event)
    clears: list[float] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    keep_media_times: bool = False
    media_times: list[float] = field(default_factory=list)

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        from callingbox.core.media.protocol import TwilioSide

        number = next(_ids)
        self.side = TwilioSide(f"MZ{number:032d}", f"CA{number:032d}", "AC" + "0" * 32, {"token": token(self.call_id)})
        self.ws = await connect(self.url, compression=None, open_timeout=20, close_timeout=2, proxy=None,
                                max_queue=None)
        await self.ws.send(self.side.connected())
        await self.ws.send(self.side.start())
        self.started_at = time.monotonic()
        self.quiet.set()
        asyncio.get_running_loop().create_task(self._read())

    def say(self, frames: list[bytes]) -> asyncio.Future:
        """Queue speech; the future resolves with the send time of its last frame."""
        self.speech.extend(frames)
        self.speech_began = None
        self.speech_done = asyncio.get_running_loop().create_future()
        return self.speech_done

    def expect_reply(self, after: float) -> asyncio.Future:
        """A future for the arrival of the first agent frame after ``after``."""
        self.reply_after = after
        self.first_audio = asyncio.get_running_loop().create_future()
        return self.first_audio

    async def send_frame(self, slot: int) -> None:
        speaking = bool(self.speech)
        frame = self.speech.popleft() if speaking else b"\xff" * 160
        await self.ws.send(self.side.media(frame, slot * 20))
        if speaking and self.speech_began is None:
            self.speech_began = time.monotonic()
        if speaking and not self.speech and self.speech_done is not None and not self.speech_done.done():
            self.speech_done.set_result(time.monotonic())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        loop = asyncio.get_running_loop()
        try:
            async for raw in self.ws:
                now = time.monotonic()
                if raw.startswith('{"event":"media"'):
                    self.frames_received += 1
                    self.quiet.clear()  # audio is playing until a mark after it comes back
                    if self.keep_media_times:
                        self.media_times.append(now)
                    waiting = self.first_audio is not None and not self.first_audio.done()
                    if waiting and self.reply_after is not None and now > self.reply_after:
                        self.first_audio.set_result(now)  # type: ignore[union-attr]
                        self.in_reply, self.play_clock = True, now
                    elif self.in_reply and now > self.play_clock:
                        self.lateness_s.append(now - self.play_clock)  # the speaker ran dry: this frame is late
                    self.play_clock = max(self.play_clock, now) + FRAME_S
                    continue
                message = json.loads(raw)
                if message["event"] == "mark":
                    name = message["mark"]["name"]
                    self.quiet.clear()
                    self.pending_marks[name] = loop.call_at(
                        loop.time() + max(0.0, self.play_clock - now), lambda n=name: loop.create_task(self._echo(n)))
                elif message["event"] == "clear":
                    self.clears.append(now)
                    self.play_clock, self.in_reply = now, False
                    for name, timer in list(self.pending_marks.items()):
                        timer.cancel()
                        await self._echo(name)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _echo(self, name: str) -> None:
        from websockets.exceptions import ConnectionClosed

        self.pending_marks.pop(name, None)
        try:
            await self.ws.send(self.side.mark(name))
        except ConnectionClosed:
            pass
        if not self.pending_marks and time.monotonic() >= self.play_clock - FRAME_S:
            self.in_reply = False
            self.quiet.set()

    async def hangup(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(self.side.stop())
            await self.ws.close()
        except ConnectionClosed:
            pass


class Line:
    """Sends every caller's frame each 20 ms on one monotonic schedule.

    Real calls start at unrelated moments, so their 20 ms frame grids are out of phase with each
    other; the callers here are spread over :data:`PHASES` phases of the period likewise (caller
    ``i`` sends at ``i mod PHASES`` × 2 ms into each period) instead of all at the same instant.
    """

    def __init__(self) -> None:
        self.callers: list[Caller] = []
        self._task: Optional[asyncio.Task] = None
        self.late_ticks = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        origin = time.monotonic()
        step = FRAME_S / PHASES
        for tick in itertools.count():
            delay = origin + tick * step - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -FRAME_S:
                self.late_ticks += 1
            slot, phase = divmod(tick, PHASES)
            for caller in self.callers[phase::PHASES]:
                if caller.ws is not None and not caller.closed.is_set():
                    try:
                        await caller.send_frame(slot)
                    except Exception:  # noqa: BLE001 - a closed line stops sending; the caller notices
                        caller.closed.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Turn:
    """One measured turn: voice to voice, and what the gateway added to it."""

    caller: int
    at: float
    voice_to_voice_s: float
    added_s: float


async def converse(line: Line, caller: Caller, *, turns: int, index: int, silence_s: float, start_delay: float,
                   until: Optional[float] = None, on_turn: Optional[Callable[[Turn], None]] = None) -> None:
    """Speak ``turns`` times (or until ``until``), each time waiting until the reply has been heard."""
    await asyncio.sleep(start_delay)
    question = speech(0.6)
    for _ in range(turns):
        if until is not None and time.monotonic() >= until:
            break
        await caller.quiet.wait()
        spoke = await caller.say(question)
        reply = caller.expect_reply(spoke)
        try:
            arrived = await asyncio.wait_for(reply, 10)
        except asyncio.TimeoutError:
            continue
        v2v = arrived - spoke
        if on_turn is not None:
            on_turn(Turn(index, spoke, v2v, v2v - silence_s - FAKES_S))
        await asyncio.wait_for(caller.quiet.wait(), 30)
        await asyncio.sleep(0.3)  # the caller thinks before the next turn


async def run_calls(url: str, n_calls: int, *, turns: int, silence_s: float, ramp_s: float = 2.0,
                    until: Optional[float] = None) -> tuple[list[Turn], list[Caller], Line]:
    """``n_calls`` concurrent calls, each ``turns`` turns, their starts spread over ``ramp_s``."""
    line = Line()
    line.start()
    callers = [Caller(url, f"call_bench_{next(_ids):06d}") for _ in range(n_calls)]
    for caller in callers:
        await caller.connect()
        line.callers.append(caller)
    results: list[Turn] = []
    await asyncio.gather(*(converse(line, caller, turns=turns, index=i, silence_s=silence_s,
                                    start_delay=ramp_s * i / max(1, n_calls), until=until, on_turn=results.append)
                           for i, caller in enumerate(callers)))
    for caller in callers:
        await caller.hangup()
    await line.stop()
    return results, callers, line


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="the gateway with fixed-latency fake engines (benchmarks only)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--silence-ms", type=int, default=250)
    parser.add_argument("--no-early-start", action="store_true")
    parser.add_argument("--latency-file", help="where to write the gateway's per-turn latency entries at exit")
    options = parser.parse_args(argv)
    _serve(options.port, options.silence_ms, not options.no_early_start, options.latency_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
