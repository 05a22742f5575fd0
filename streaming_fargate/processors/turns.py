"""The model turn: prompt, context window, streamed reply, tools, ``end_call``.

* **Prompt.** The system prompt is the snapshot's persona, instructions and language (placeholders
  were filled at dispatch) plus the call's context values (:func:`system_prompt`). Only the last
  ``context_window`` caller turns, with everything after them, go to the model
  (:func:`context_messages`); consecutive caller messages are merged.
* **Early start.** A speculative caller turn starts the model at once, behind a closed gate: its
  text is held and its tools wait until the turn is confirmed. A confirmation with the same text
  opens the gate; different text, or new words, cancels the reply and starts another. When the
  caller starts speaking again before a confirmed reply is audible, the reply is cancelled and the
  turn stays open (endpointing confirms it again, longer or unchanged).
* **Tools.** The agent's tools plus the built-ins (:data:`BUILTIN_TOOLS`), run in the order the
  model called them:

  - ``end_call`` says goodbye (what the model said, or its ``goodbye`` argument, or a default) and
    hangs up once it was heard;
  - ``transfer_call`` checks ``to`` (E.164; spaces, dashes, dots and brackets are dropped first; a
    bad number is told to the model), says its ``announcement`` (or, when the reply said nothing,
    :data:`DEFAULT_TRANSFER_ANNOUNCEMENT`), and once that was heard the conversation records the
    transfer on the call and closes the stream: the carrier then bridges the caller to ``to``;
  - ``send_dtmf`` plays the keys' tones (:mod:`streaming_fargate.dtmf`) as part of the reply, in
    order with its speech, and answers ``"sent"``.

  The agent's tools go to its ``tool_url``; any failure is told to the model as the tool's result,
  never fatal. At most :data:`MAX_TOOL_ROUNDS` rounds of tool calls per reply.
* **Barge-in.** The reply in flight is cancelled; once playout reports what was heard, the
  history keeps only that (the model knows where it was cut off).
* DTMF reaches the model as a caller message ``DTMF: <digit>``; a key press over the agent interrupts it.
"""

from __future__ import annotations

import asyncio
import sys
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping, Optional

from callingbox.core.observability import get_logger
from callingbox.types.shared import E164_PATTERN

from ..dtmf import MAX_DIGITS, dtmf_audio, valid_digits
from ..engines.llm import LanguageModel, Message, TextDelta, ToolCall, ToolSpec
from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    DtmfFrame,
    EndCallFrame,
    Frame,
    InterruptionFrame,
    LlmTextFrame,
    SpeakFrame,
    SpokenFrame,
    TextEndFrame,
    TtsTextFrame,
    TurnCommittedFrame,
    TurnTimings,
    UserStartedSpeakingFrame,
    UserTurnFrame,
    Utterance,
    UtteranceEndFrame,
)
from ..pipeline import UP, CallContext, Direction, Processor, cancel_and_wait
from ..tools import ToolCallError, ToolRunner
from .endpointing import normalize
from .playout import TranscriptSink

__all__ = ["Turns", "system_prompt", "context_messages", "tool_specs", "transfer_target", "BUILTIN_TOOLS",
           "MAX_TOOL_ROUNDS", "DEFAULT_GOODBYE", "DEFAULT_TRANSFER_ANNOUNCEMENT"]

MAX_TOOL_ROUNDS = 4
DEFAULT_GOODBYE = "Goodbye."
DEFAULT_TRANSFER_ANNOUNCEMENT = "Transferring you now."
# Recent replies remembered for truncating their history after a barge-in report.
_RECENT_REPLIES = 8

BUILTIN_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("end_call", "Hang up. Say goodbye in the same reply first, or pass it as `goodbye`.",
             {"type": "object", "properties": {"goodbye": {"type": "string", "description": "Said before hanging up"}}}),
    ToolSpec("transfer_call",
             "Transfer the caller to another phone number. The caller hears the announcement, then is connected "
             "to `to` and your part of the call ends.",
             {"type": "object", "properties": {
                 "to": {"type": "string", "description": "The number in E.164 form, such as +14155550123"},
                 "announcement": {"type": "string", "description": "Said before the transfer "
                                                                   f"(default: {DEFAULT_TRANSFER_ANNOUNCEMENT!r})"}},
              "required": ["to"]}),
    ToolSpec("send_dtmf", "Press phone keys on the line, for example to choose an option in a phone menu.",
             {"type": "object", "properties": {
                 "digits": {"type": "string", "description": f"Keys to press, at most {MAX_DIGITS}: 0-9, * and #; "
                                                             "w waits half a second, W one second"}},
              "required": ["digits"]}),
)
_E164 = re.compile(E164_PATTERN)
# What people (and models) write inside phone numbers: "+1 (415) 555-0123".
_NUMBER_PUNCTUATION = re.compile(r"[\s\-().]")
_VOICE_RULES = (
    "You are on a live phone call and everything you write is spoken aloud by a voice. Reply in one or "
    "two short sentences of plain spoken language: no lists, no markdown, no emojis."
)


def system_prompt(snapshot: Mapping[str, Any], context: Optional[Mapping[str, Any]]) -> str:
    """Persona, instructions, language and the call's context values, in that order."""
    parts = [_VOICE_RULES]
    if snapshot.get("persona"):
        parts.append(str(snapshot["persona"]))
    if snapshot.get("instructions"):
        parts.append(f"Your task on this call: {snapshot['instructions']}")
    parts.append(f"Speak the language with the BCP-47 tag {snapshot.get('language') or 'en-US'}.")
    if context:
        lines = "\n".join(f"- {key}: {value if isinstance(value, str) else json.dumps(value)}"
                          for key, value in context.items())
        parts.append(f"Details about this call:\n{lines}")
    parts.append("Keys the caller presses reach you as \"DTMF: <digit>\". When the conversation is over, "
                 "say goodbye and call end_call.")
    return "\n\n".join(parts)


def tool_specs(snapshot: Mapping[str, Any]) -> list[ToolSpec]:
    """The agent's tools, then the built-ins (a built-in name cannot be redefined by the agent)."""
    builtin = {tool.name for tool in BUILTIN_TOOLS}
    own = [ToolSpec(str(tool["name"]), str(tool.get("description") or ""),
                    dict(tool.get("parameters") or {"type": "object", "properties": {}}))
           for tool in snapshot.get("tools") or [] if tool.get("name") not in builtin]
    return own + list(BUILTIN_TOOLS)


def transfer_target(arguments: Mapping[str, Any]) -> Optional[str]:
    """The E.164 number of a ``transfer_call``'s ``to`` (punctuation dropped), or None if it is not one."""
    number = _NUMBER_PUNCTUATION.sub("", str(arguments.get("to") or ""))
    return number if _E164.fullmatch(number) else None


def context_messages(history: list[Message], window: int) -> list[Message]:
    """The last ``window`` caller turns and everything after them; adjacent caller messages merged."""
    merged: list[Message] = []
    for message in history:
        if merged and message.role == "user" and merged[-1].role == "user":
            merged[-1] = Message("user", f"{merged[-1].content}\n{message.content}")
        else:
            merged.append(message)
    users = [index for index, message in enumerate(merged) if message.role == "user"]
    if len(users) > window:
        return merged[users[-window]:]
    return merged


@dataclass(eq=False)
class _Reply:
    """One model reply in flight."""

    turn: Optional[int]
    text: str  # the caller text it answers, normalized
    utterance: Utterance
    confirmed: bool
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    task: Optional[asyncio.Task[None]] = None
    emitted: bool = False
    audible: bool = False
    history_index: dict[int, int] = field(default_factory=dict)  # round -> its assistant message
    tone_chunks: int = 0  # chunks of the utterance that are DTMF tones, not speech

    @property
    def spoke(self) -> bool:
        """True once the reply has words to say (DTMF tones are not words)."""
        return len(self.utterance.chunks) > self.tone_chunks


async def _audio(data: bytes) -> AsyncIterator[bytes]:
    """Ready audio as the async source a :class:`TtsTextFrame` carries."""
    yield data


class Turns(Processor):
    """Runs the model for each caller turn and streams its reply down as text."""

    def __init__(self, llm: LanguageModel, *, snapshot: Mapping[str, Any], context: Optional[Mapping[str, Any]],
                 ctx: CallContext, tools: Optional[ToolRunner] = None,
                 transcript: Optional[TranscriptSink] = None) -> None:
        super().__init__()
        self._llm = llm
        self._ctx = ctx
        self._tools = tools
        self._transcript = transcript
        self._context = context
        self.system = system_prompt(snapshot, context)
        self.specs = tool_specs(snapshot)
        self._agent_tools = {spec.name for spec in self.specs} - {tool.name for tool in BUILTIN_TOOLS}
        self.window = int(snapshot.get("context_window") or 10)
        if llm.whole_history:
            self.window = sys.maxsize
        self.history: list[Message] = []
        self._scripted: dict[int, int] = {}  # utterance id -> history index of its assistant message
        self._reply: Optional[_Reply] = None
        self._recent: OrderedDict[int, _Reply] = OrderedDict()  # utterance id -> reply
        self._open_turn: Optional[tuple[int, int, int]] = None  # (turn, history index, transcript seq)
        self._next_utterance = 0
        self._replies = 0
        self._bot_speaking = False
        self._log = get_logger("gateway")

    async def stop(self) -> None:
        tasks = [reply.task for reply in self._recent.values() if reply.task is not None and not reply.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            await cancel_and_wait(task)

    # -- frames --------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, UserTurnFrame):
            await self._on_turn(frame)
        elif isinstance(frame, UserStartedSpeakingFrame):
            reply = self._reply
            if reply is not None and reply.confirmed and not reply.audible:
                await self._cancel(reply, "caller_resumed")
            await self.push(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            stale = self._drop_reply()
            await self.push(frame, direction)
            await cancel_and_wait(stale)
        elif isinstance(frame, DtmfFrame):
            await self._on_dtmf(frame)
            await self.push(frame, direction)
        elif isinstance(frame, SpeakFrame):
            await self._speak(frame)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            await self.push(frame, direction)
            reply = self._recent.get(frame.utterance.id)
            if reply is not None and not reply.audible:
                reply.audible = True
                if self._reply is reply and reply.task is not None and reply.task.done():
                    self._reply = None
                await self._commit(reply.turn)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            await self.push(frame, direction)
        elif isinstance(frame, SpokenFrame):
            if frame.interrupted:
                self._truncate(frame.utterance, frame.heard)
            self._recent.pop(frame.utterance.id, None)
            self._scripted.pop(frame.utterance.id, None)
            await self.push(frame, direction)
        else:
            await self.push(frame, direction)

    async def _on_turn(self, frame: UserTurnFrame) -> None:
        reply = self._reply
        text = normalize(frame.text)
        same = reply is not None and reply.turn == frame.turn and reply.text == text and not reply.utterance.cancelled
        if frame.speculative:
            if not same:
                if reply is not None:
                    await self._cancel(reply, "caller_continued")
                self._start(frame.turn, frame.text, frame.timings, confirmed=False)
            return
        self._record_caller(frame)
        if same and reply is not None:
            reply.confirmed = True
            if reply.utterance.timings is not None:
                reply.utterance.timings.endpoint_at = frame.timings.endpoint_at
                reply.utterance.timings.speech_ended_at = frame.timings.speech_ended_at
            reply.gate.set()
            return
        if reply is not None:
            await self._cancel(reply, "caller_continued")
        self._start(frame.turn, frame.text, frame.timings, confirmed=True)

    def _record_caller(self, frame: UserTurnFrame) -> None:
        """Put the confirmed caller text in the history and the transcript (extending an open turn)."""
        message = Message("user", frame.text)
        if self._open_turn is not None and self._open_turn[0] == frame.turn:
            _, index, seq = self._open_turn
            self.history[index] = message
            if self._transcript is not None:
                self._transcript.update(seq, text=frame.text, end_ms=frame.ended_offset_ms)
            return
        self.history.append(message)
        seq = -1
        if self._transcript is not None:
            seq = self._transcript.append("caller", frame.text, frame.started_offset_ms, frame.ended_offset_ms)
        self._open_turn = (frame.turn, len(self.history) - 1, seq)

    async def _on_dtmf(self, frame: DtmfFrame) -> None:
        if self._bot_speaking:
            stale = self._drop_reply()
            await self.push(InterruptionFrame(frame.at, "dtmf"))
            await cancel_and_wait(stale)
        elif self._reply is not None:
            await self._cancel(self._reply, "dtmf")
        text = f"DTMF: {frame.digit}"
        self.history.append(Message("user", text))
        if self._transcript is not None:
            self._transcript.append("caller", text, frame.offset_ms, frame.offset_ms)
        self._open_turn = None
        self._start(None, text, TurnTimings(0, frame.at, endpoint_at=frame.at), confirmed=True)

    async def _commit(self, turn: Optional[int]) -> None:
        """The reply to ``turn`` is audible (or finished silently): the caller's turn is closed."""
        if self._open_turn is not None and self._open_turn[0] == turn:
            self._open_turn = None
        if turn is not None:
            await self.push(TurnCommittedFrame(turn), UP)

    # -- replies -------------------------------------------------------------------------------

    def _start(self, turn: Optional[int], text: str, timings: TurnTimings, *, confirmed: bool) -> None:
        self._replies += 1
        timings.turn = self._replies
        timings.llm_request_at = self._ctx.clock()
        reply = _Reply(turn, normalize(text), self._utterance("reply", turn, timings), confirmed)
        if confirmed:
            reply.gate.set()
        base = self.history
        if not confirmed:
            base = list(self.history)
            if self._open_turn is not None and self._open_turn[0] == turn:
                base[self._open_turn[1]] = Message("user", text)
            else:
                base.append(Message("user", text))
        messages = context_messages(base, self.window)
        self._reply = reply
        self._recent[reply.utterance.id] = reply
        while len(self._recent) > _RECENT_REPLIES:
            self._recent.popitem(last=False)
        reply.task = asyncio.get_running_loop().create_task(self._run(reply, messages),
                                                            name=f"reply:{self._ctx.call_id}:{self._replies}")

    def _drop_reply(self) -> Optional[asyncio.Task[None]]:
        """Cancel the reply in flight without waiting; returns its task to await (bounded) later."""
        reply, self._reply = self._reply, None
        if reply is None:
            return None
        reply.utterance.cancelled = True
        if reply.task is not None:
            reply.task.cancel()
        return reply.task

    async def _cancel(self, reply: _Reply, reason: str) -> None:
        if self._reply is reply:
            self._reply = None
        reply.utterance.cancelled = True
        if reply.task is not None:
            reply.task.cancel()
        if reply.emitted:  # some of it may be queued below or already playing: flush and clear it
            await self.push(InterruptionFrame(self._ctx.clock(), reason))
        await cancel_and_wait(reply.task)

    async def _run(self, reply: _Reply, messages: list[Message]) -> None:
        utterance, timings = reply.utterance, reply.utterance.timings
        try:
            for round_ in range(MAX_TOOL_ROUNDS + 1):
                said: list[str] = []
                calls: list[ToolCall] = []
                stream = self._llm.stream(system=self.system, messages=messages, tools=self.specs)
                try:
                    async for event in stream:
                        if isinstance(event, TextDelta) and event.text:
                            if timings is not None and timings.llm_first_token_at is None:
                                timings.llm_first_token_at = self._ctx.clock()
                            said.append(event.text)
                            await reply.gate.wait()
                            reply.emitted = True
                            await self.push(LlmTextFrame(utterance, event.text, round_))
                        elif isinstance(event, ToolCall):
                            calls.append(event)
                finally:
                    close = getattr(stream, "aclose", None)
                    if close is not None:  # cancelled: end the model's request now, not at garbage collection
                        await close()
                await reply.gate.wait()
                reply.emitted = True
                await self.push(TextEndFrame(utterance, round_))
                assistant = Message("assistant", "".join(said).strip(), tool_calls=tuple(calls))
                if assistant.content or assistant.tool_calls:
                    self.history.append(assistant)
                    reply.history_index[round_] = len(self.history) - 1
                    messages = messages + [assistant]
                if not calls:
                    break
                for call in calls:
                    if call.name == "end_call":
                        await self._end_call(reply, call, round_)
                        return
                    if call.name == "transfer_call" and (to := transfer_target(call.arguments)) is not None:
                        await self._transfer(reply, call, to, round_)
                        return
                    result = await self._run_tool(call, reply, round_)
                    self.history.append(result)
                    messages = messages + [result]
            else:
                self._log.warning("reply stopped after the maximum tool rounds",
                                  extra={"call_id": self._ctx.call_id, "rounds": MAX_TOOL_ROUNDS})
            await self.push(UtteranceEndFrame(utterance))
            if self._reply is reply and (reply.audible or not utterance.chunks):
                self._reply = None  # otherwise it stays cancellable until its audio starts
            if not utterance.chunks:  # nothing to hear: the turn is over all the same
                await self._commit(reply.turn)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the model failing ends the call as failed
            if not reply.confirmed:  # an early start: the confirmed turn asks again before giving up
                self._log.warning("early model request failed", extra={"call_id": self._ctx.call_id,
                                                                       "error": repr(error)})
                reply.utterance.cancelled = True
                return
            self._ctx.fail("llm_failed", error)

    async def _end_call(self, reply: _Reply, call: ToolCall, round_: int) -> None:
        if not reply.spoke:
            goodbye = str(call.arguments.get("goodbye") or "").strip() or DEFAULT_GOODBYE
            await self.push(LlmTextFrame(reply.utterance, goodbye, round_))
            await self.push(TextEndFrame(reply.utterance, round_))
        await self.push(UtteranceEndFrame(reply.utterance))
        await self.push(EndCallFrame("agent_hangup"))

    async def _transfer(self, reply: _Reply, call: ToolCall, to: str, round_: int) -> None:
        """Say the announcement; playout transfers the call once it was heard (see :class:`EndCallFrame`)."""
        announcement = str(call.arguments.get("announcement") or "").strip()
        if not announcement and not reply.spoke:
            announcement = DEFAULT_TRANSFER_ANNOUNCEMENT
        if announcement:
            await self.push(LlmTextFrame(reply.utterance, announcement, round_))
            await self.push(TextEndFrame(reply.utterance, round_))
        self._log.info("transferring the call", extra={"call_id": self._ctx.call_id, "to": to})
        await self.push(UtteranceEndFrame(reply.utterance))
        await self.push(EndCallFrame("transferred", transfer_to=to))

    async def _send_dtmf(self, reply: _Reply, call: ToolCall, round_: int) -> Any:
        """Queue the keys' tones as the next chunk of the reply (after what it said so far)."""
        digits = str(call.arguments.get("digits") or "")
        if not valid_digits(digits):
            return {"error": f"digits must be 1 to {MAX_DIGITS} of 0-9, *, #, w and W, not {digits!r}"}
        utterance = reply.utterance
        text = f"[DTMF {digits}]"  # how the keys show in the agent's transcript segment
        utterance.chunks.append(text)
        utterance.chunk_rounds.append(round_)
        reply.tone_chunks += 1
        reply.emitted = True
        await self.push(TtsTextFrame(utterance, len(utterance.chunks) - 1, text, _audio(dtmf_audio(digits))))
        return "sent"

    async def _run_tool(self, call: ToolCall, reply: _Reply, round_: int) -> Message:
        if call.name == "transfer_call":  # a valid number transfers without coming here
            outcome: Any = {"error": f"`to` must be a phone number in E.164 form such as +14155550123, "
                                     f"not {call.arguments.get('to')!r}; nothing was transferred"}
        elif call.name == "send_dtmf":
            outcome = await self._send_dtmf(reply, call, round_)
        elif call.name not in self._agent_tools:
            outcome = {"error": f"there is no tool named {call.name!r}"}
        elif self._tools is None:
            outcome = {"error": "this agent has no tool_url, so its tools cannot run"}
        else:
            try:
                outcome = await self._tools.call(call_id=self._ctx.call_id, tool=call.name,
                                                 arguments=dict(call.arguments), context=self._context)
            except ToolCallError as error:
                outcome = {"error": str(error)}
            except Exception as error:  # noqa: BLE001 - a tool failure is the model's to handle, never the call's
                self._log.exception("tool call failed unexpectedly", extra={"call_id": self._ctx.call_id})
                outcome = {"error": f"the tool {call.name!r} failed ({type(error).__name__})"}
        failed = isinstance(outcome, dict) and set(outcome) == {"error"}
        self._log.info("tool call", extra={"call_id": self._ctx.call_id, "tool": call.name, "failed": failed})
        return Message("tool", json.dumps(outcome), tool_call_id=call.id)

    # -- scripted speech and truncation --------------------------------------------------------

    def _utterance(self, kind: Any, turn: Optional[int] = None, timings: Optional[TurnTimings] = None) -> Utterance:
        self._next_utterance += 1
        return Utterance(self._next_utterance, kind, turn, timings)

    async def _speak(self, frame: SpeakFrame) -> None:
        utterance = self._utterance(frame.kind)
        self.history.append(Message("assistant", frame.text))
        self._scripted[utterance.id] = len(self.history) - 1
        if frame.audio is not None:
            utterance.chunks.append(frame.text)
            utterance.chunk_rounds.append(0)
            await self.push(TtsTextFrame(utterance, 0, frame.text, frame.audio))
        else:
            await self.push(LlmTextFrame(utterance, frame.text))
            await self.push(TextEndFrame(utterance))
        await self.push(UtteranceEndFrame(utterance))

    def _truncate(self, utterance: Utterance, heard: list[str]) -> None:
        """Keep in the history only what the caller heard of an interrupted utterance."""
        if utterance.id in self._scripted:
            self.history[self._scripted[utterance.id]] = Message("assistant", " ".join(heard))
            return
        by_round: dict[int, list[str]] = {}
        for position, text in enumerate(heard):
            by_round.setdefault(utterance.chunk_rounds[position], []).append(text)
        reply = self._recent.get(utterance.id)
        for round_, index in (reply.history_index if reply is not None else {}).items():
            old = self.history[index]
            self.history[index] = Message("assistant", " ".join(by_round.pop(round_, [])), old.tool_calls)
        for round_ in sorted(by_round):  # rounds cut off before the model finished them
            self.history.append(Message("assistant", " ".join(by_round[round_])))
