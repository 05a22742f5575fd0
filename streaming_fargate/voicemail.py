"""Voicemail mode: a stream that leaves the agent's ``voicemail_message`` on an answering machine.

How a call gets here: the call was answered and its conversation started while the carrier's
answering-machine detection listened (``DetectMessageEnd``). When detection reports a machine at
the end of its greeting (after the beep) and the agent has ``voicemail_action: leave_message``,
the carrier webhook ends the call (``no_answer``, ``answered_by: machine``, ``end_reason:
voicemail``, ``voicemail: {"action": "leave_message", "left": false}``) and redirects it to a new
``<Connect><Stream>`` whose parameters are the stream ``token`` and ``mode=voicemail``. The first
stream is then stopped by the carrier and writes no outcome (see
:meth:`~streaming_fargate.conversation.Conversation._write_end`); this one owns it::

    start (mode=voicemail) ──► voicemail_message synthesized and played (chunked like a reply)
                           ──► every mark echoed (it played in full) ──► we close the stream
    final state: no_answer, answered_by machine, end_reason voicemail, billable_seconds 0,
                 voicemail {"left": true}; no extraction job

The message is the snapshot's ``voicemail_message``, whose ``{{variables}}`` were filled from the
call's ``context`` at dispatch. An empty message hangs up at once (``left: false``); so does a
``stop`` before the message was heard in full (the machine hung up), and a failure on our side
adds ``error`` to ``voicemail``. Nothing is recognised or answered (no STT session, no model)
and, unlike a conversation, the stream keeps no recording: the call's recording is the first
stream's, and the message is in the transcript.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping

from callingbox.core.call_states import CallStatus, EndReason

from .conversation import STORE_TIMEOUT_S, CallWrites, Conversation
from .frames import EndCallFrame, LlmTextFrame, TextEndFrame, Utterance, UtteranceEndFrame
from .pipeline import Pipeline
from .processors.playout import Playout
from .processors.sentence_chunker import SentenceChunkerProcessor
from .processors.synthesis import SpeechSynthesis

__all__ = ["VoicemailConversation", "VOICEMAIL_MODE", "VOICEMAIL_TIMEOUT_S", "awaits_voicemail"]

VOICEMAIL_MODE = "voicemail"
"""The value of the stream's ``mode`` parameter that selects this mode."""
# A message is a few sentences; past this (a stuck engine, marks never coming back) we give up.
VOICEMAIL_TIMEOUT_S = 120.0
_VOICEMAIL = EndReason.VOICEMAIL.value


def awaits_voicemail(call: Mapping[str, Any]) -> bool:
    """True for a call the carrier webhook ended as voicemail so that a message be left on it.

    Such a call is already final (``no_answer``), yet its voicemail stream must be accepted.
    """
    voicemail = call.get("voicemail") or {}
    return (call.get("status") == CallStatus.NO_ANSWER.value and voicemail.get("action") == "leave_message"
            and not voicemail.get("left"))


class VoicemailConversation(Conversation):
    """Plays the voicemail message on a stream started with ``mode=voicemail``, then hangs up."""

    @property
    def message(self) -> str:
        """The text to leave (placeholders were filled at dispatch)."""
        return str(self.snapshot.get("voicemail_message") or "").strip()

    def _records(self) -> bool:
        return False

    async def _heartbeats(self) -> None:
        # The call is final already when the webhook ended it before the redirect: no sweeper
        # watches it, and a heartbeat would report it "ended elsewhere". The message's own
        # deadline (VOICEMAIL_TIMEOUT_S) bounds this stream instead.
        if not awaits_voicemail(self.call):
            await super()._heartbeats()

    def _transcript_log(self) -> CallWrites:
        started = time.time()

        def after_the_first_stream() -> tuple[int, int]:
            # The message goes after the first stream's segments and, on the call's clock (which
            # starts at the answer), no earlier than now.
            count, end_ms = self._store.transcript_tail(self.workspace_id, self.call_id)
            answered_at = self.call.get("answered_at")
            since_answer = int((started - float(answered_at)) * 1000) if answered_at else 0
            return count, max(end_ms, since_answer)

        return CallWrites(self._store, self.workspace_id, self.call_id, follows=after_the_first_stream)

    def _build(self) -> Pipeline:
        language = str(self.snapshot.get("language") or "en-US")
        return Pipeline([
            SentenceChunkerProcessor(),
            SpeechSynthesis(self._engines.tts, voice=self.voice, language=language, ctx=self.ctx),
            Playout(send=self._send, stream_sid=self._start.stream_sid, ctx=self.ctx, transcript=self.writes),
        ])

    async def _begin(self) -> None:
        text = self.message
        if not text:
            self._log.info("no voicemail_message: hanging up", extra={"call_id": self.call_id})
            self.hang_up(_VOICEMAIL)
            return
        self._log.info("leaving a voicemail", extra={"call_id": self.call_id})
        utterance = Utterance(1, "voicemail")
        for frame in (LlmTextFrame(utterance, text), TextEndFrame(utterance), UtteranceEndFrame(utterance),
                      EndCallFrame(_VOICEMAIL)):  # hangs up once the message was heard
            await self.pipeline.push(frame)
        self._spawn(self._deadline(), "voicemail-deadline")

    async def _deadline(self) -> None:
        await asyncio.sleep(VOICEMAIL_TIMEOUT_S)
        self.fail("voicemail_timeout")

    async def _write_end(self, reason: str, answered: Mapping[str, Any]) -> None:
        voicemail: dict[str, Any] = {"left": reason == _VOICEMAIL and bool(self.message)}
        if reason.startswith("error:"):
            voicemail["error"] = reason
        fields = {**self._timing(answered), "billable_seconds": 0, "answered_by": "machine",
                  "end_reason": _VOICEMAIL, "voicemail": voicemail}
        try:
            changed, doc = await asyncio.wait_for(asyncio.to_thread(
                self._store.transition, self.workspace_id, self.call_id, CallStatus.NO_ANSWER, **fields),
                STORE_TIMEOUT_S)
            if not changed and doc.get("status") == CallStatus.NO_ANSWER.value:
                # Ended by the webhook before the redirect: only the message's outcome is ours.
                voicemail = {**(doc.get("voicemail") or {}), **voicemail}
                await asyncio.wait_for(asyncio.to_thread(
                    self._store.record_voicemail, self.workspace_id, self.call_id, voicemail), STORE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - the sweeper ends the call if this never lands
            self._log.error("final call status not written", extra={"call_id": self.call_id, "error": repr(error)})
            return
        self._log.info("call ended", extra={"call_id": self.call_id, "status": CallStatus.NO_ANSWER.value,
                                            "end_reason": _VOICEMAIL, "stream_end": reason,
                                            "voicemail_left": voicemail["left"], "changed": changed})
