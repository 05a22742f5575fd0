"""The people and machines at the far end of simulated calls.

A :class:`Party` lives as long as its call: it is prepared while the phone rings, told when it
answers, and then talks over each media stream the call's TwiML opens (a REST redirect may open a
second one; a person carries on where they left off). :meth:`Party.converse` returns
:data:`HUNG_UP` when the party hangs up and :data:`STREAM_CLOSED` when the other side closed the
stream first.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable, Optional

from callingbox.core.media.client import MediaStreamClosed
from callingbox.core.media.mulaw import SAMPLE_RATE

from .callees import CalleeScript
from .records import CallRecord, SpokenLine
from .speech import AgentEar, Voice, beep_ulaw
from .timing import Timing

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.media.client import MediaStreamsClient

__all__ = ["Party", "HumanParty", "VoicemailParty", "InteractiveParty", "HUNG_UP", "STREAM_CLOSED"]

HUNG_UP = "hung_up"
STREAM_CLOSED = "stream_closed"


async def _say(client: "MediaStreamsClient", call: CallRecord, stream_sid: str, text: str, audio: bytes) -> float:
    started = time.monotonic()
    ended = await client.play(audio)
    call.spoken.append(SpokenLine(started, ended, text, stream_sid))
    call.log("speak", text=text, stream_sid=stream_sid, seconds=round(len(audio) / SAMPLE_RATE, 3))
    return ended


class Party(ABC):
    """Someone (or something) on the line."""

    async def prepare(self) -> None:  # noqa: B027 — optional hook, nothing to prepare by default
        """Get ready while the phone rings (synthesize what will be said first)."""

    def answered(self, at: float) -> None:
        """The call was answered at ``at`` (``time.monotonic()``)."""
        self.answered_at = at

    def amd_result(self, mode: str, timing: Timing) -> tuple[str, float]:
        """What answering-machine detection concludes, and how many seconds after the answer."""
        return "human", timing.amd_human_s

    @abstractmethod
    async def converse(self, client: "MediaStreamsClient", call: CallRecord, stream_sid: str) -> str:
        """Talk over one open stream until someone hangs up: :data:`HUNG_UP` or :data:`STREAM_CLOSED`."""


class HumanParty(Party):
    """A person who says scripted lines, one per turn.

    Turn taking: before each line (except a ``speaks_first`` opening) the person waits for the agent
    to say something (at most ``reply_timeout_s``), then for ``turn_gap_s`` of the agent's silence.
    After the last line they wait for the agent to hang up, and hang up themselves after
    ``idle_hangup_s`` of silence (or ``linger_s`` at the latest).
    """

    def __init__(self, script: CalleeScript, voice: Voice, timing: Timing) -> None:
        self.script = script
        self._voice = voice
        self._timing = timing
        self._next = 0
        self._last_line_end: Optional[float] = None

    async def prepare(self) -> None:
        if self.script.lines:
            await self._voice.say(self.script.lines[0])

    async def converse(self, client: "MediaStreamsClient", call: CallRecord, stream_sid: str) -> str:
        ear = AgentEar(client)
        opened = time.monotonic()
        lines = self.script.lines
        try:
            while self._next < len(lines):
                if self._next == 0 and self.script.speaks_first:
                    # People answer with "Hello?" - unless the agent is already talking: then they
                    # let it finish rather than talk over its greeting.
                    if await ear.wait_for_speech(after=opened, timeout=self._timing.first_line_delay_s):
                        if not await ear.wait_for_silence(self._timing.turn_gap_s):
                            return STREAM_CLOSED
                else:
                    since = self._last_line_end or opened
                    await ear.wait_for_speech(after=since, timeout=self._timing.reply_timeout_s)
                    if not await ear.wait_for_silence(self._timing.turn_gap_s):
                        return STREAM_CLOSED
                line = lines[self._next]
                audio = await self._voice.say(line)
                self._last_line_end = await _say(client, call, stream_sid, line, audio)
                self._next += 1
            idle = self.script.idle_hangup_s if self.script.idle_hangup_s is not None else self._timing.idle_hangup_s
            reason = "idle"
            try:
                quiet = ear.wait_for_silence(idle, since=self._last_line_end or opened)
                if not await asyncio.wait_for(quiet, max(idle, self._timing.linger_s)):
                    return STREAM_CLOSED
            except TimeoutError:
                reason = "said everything"
            call.log("hangup", by="callee", reason=reason)
            return HUNG_UP
        except MediaStreamClosed:
            return STREAM_CLOSED


class VoicemailParty(Party):
    """An answering machine: greeting, 1 kHz beep, then it records until silence and hangs up.

    The greeting runs on the call's clock from the answer, so answering-machine detection reports
    ``machine_end_beep`` when the beep ends whether or not a stream is listening.
    """

    def __init__(self, script: CalleeScript, voice: Voice, timing: Timing) -> None:
        self.script = script
        self._voice = voice
        self._timing = timing
        self._greeting = b""
        self._announcement = b""
        self.answered_at = time.monotonic()

    async def prepare(self) -> None:
        self._greeting = await self._voice.say(self.script.greeting)
        self._announcement = self._greeting + beep_ulaw(self._timing.beep_s)

    @property
    def announcement_s(self) -> float:
        """Seconds of greeting plus beep."""
        return len(self._announcement) / SAMPLE_RATE

    def amd_result(self, mode: str, timing: Timing) -> tuple[str, float]:
        if mode.lower() == "detectmessageend":
            return "machine_end_beep", self.announcement_s
        # Plain detection decides early in the greeting.
        return "machine_start", min(2.0, self.announcement_s)

    async def converse(self, client: "MediaStreamsClient", call: CallRecord, stream_sid: str) -> str:
        ear = AgentEar(client)
        offset = int((time.monotonic() - self.answered_at) * SAMPLE_RATE)
        try:
            if offset < len(self._announcement):
                await _say(client, call, stream_sid, self.script.greeting + " [beep]", self._announcement[offset:])
            beep_end = self.answered_at + self.announcement_s
            call.log("recording", stream_sid=stream_sid)
            recorded = ear.wait_for_silence(self._timing.voicemail_silence_s, since=max(beep_end, time.monotonic()))
            try:
                if not await asyncio.wait_for(recorded, self._timing.voicemail_max_s):
                    return STREAM_CLOSED
            except TimeoutError:
                pass  # the longest message a mailbox takes
            call.log("hangup", by="callee", reason="voicemail recorded")
            return HUNG_UP
        except MediaStreamClosed:
            return STREAM_CLOSED


class InteractiveParty(Party):
    """A developer at a terminal: says each line put on :attr:`lines` (``None`` hangs up).

    ``on_agent(speaking)`` is called when the agent starts and stops speaking.
    """

    def __init__(self, voice: Voice, timing: Timing, *,
                 on_agent: Optional[Callable[[bool], None]] = None) -> None:
        self.lines: asyncio.Queue[Optional[str]] = asyncio.Queue()
        self._voice = voice
        self._timing = timing
        self._on_agent = on_agent or (lambda speaking: None)

    async def _watch_agent(self, ear: AgentEar, client: "MediaStreamsClient") -> None:
        speaking = False
        while not client.closed.is_set():
            now_speaking = ear.speaking() or ear.silent_for() < self._timing.turn_gap_s
            if now_speaking != speaking:
                speaking = now_speaking
                self._on_agent(speaking)
            await asyncio.sleep(0.05)

    async def converse(self, client: "MediaStreamsClient", call: CallRecord, stream_sid: str) -> str:
        ear = AgentEar(client)
        watcher = asyncio.create_task(self._watch_agent(ear, client))
        closed = asyncio.create_task(client.closed.wait())
        try:
            while True:
                getter = asyncio.create_task(self.lines.get())
                await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    return STREAM_CLOSED
                line = getter.result()
                if line is None:
                    call.log("hangup", by="callee", reason="end of input")
                    return HUNG_UP
                if line.strip():
                    await _say(client, call, stream_sid, line.strip(), await self._voice.say(line.strip()))
        except MediaStreamClosed:
            return STREAM_CLOSED
        finally:
            watcher.cancel()
            closed.cancel()
