"""Silence and limits: re-prompt a silent caller, hang up after repeated silence or at the maximum duration.

The silence clock runs only while nobody speaks: caller speech or agent audio stops it, the end of
either restarts it. When it reaches ``reprompt_after_s`` the agent asks whether the caller is still
there (a fixed phrase in the call's language, no model round trip); after ``max_reprompts`` such
prompts with no answer the agent says goodbye and hangs up with end_reason ``silence``. A confirmed
caller turn or a key press resets the count. At ``max_duration_s`` after the stream started the
call ends at once with end_reason ``max_duration``.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    DtmfFrame,
    EndCallFrame,
    Frame,
    SpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    UserTurnFrame,
)
from ..pipeline import CallContext, Direction, Processor, cancel_and_wait

__all__ = ["SilenceWatch", "reprompt_text", "silence_goodbye_text"]

_REPROMPTS = {
    "en": "Are you still there?",
    "es": "¿Sigue ahí?",
    "fr": "Vous êtes toujours là ?",
    "de": "Sind Sie noch da?",
    "it": "È ancora in linea?",
    "pt": "Você ainda está aí?",
}
_GOODBYES = {
    "en": "I haven't heard anything, so I'll end the call now. Goodbye.",
    "es": "No le escucho, así que terminaré la llamada. Adiós.",
    "fr": "Je ne vous entends pas, je vais raccrocher. Au revoir.",
    "de": "Ich höre nichts, deshalb beende ich das Gespräch. Auf Wiederhören.",
    "it": "Non sento nulla, quindi chiudo la chiamata. Arrivederci.",
    "pt": "Não estou ouvindo nada, então vou encerrar a ligação. Tchau.",
}


def _lookup(table: dict[str, str], language: str) -> str:
    return table.get(language.split("-")[0].lower(), table["en"])


def reprompt_text(language: str) -> str:
    """The re-prompt in ``language`` (BCP-47; English when we have no phrase for it)."""
    return _lookup(_REPROMPTS, language)


def silence_goodbye_text(language: str) -> str:
    """The goodbye before hanging up on a silent caller."""
    return _lookup(_GOODBYES, language)


class SilenceWatch(Processor):
    """Observes who is speaking; pushes re-prompts, the silence goodbye and the max-duration hang-up."""

    def __init__(self, *, reprompt_after_s: float, max_reprompts: int, max_duration_s: float, language: str,
                 ctx: CallContext) -> None:
        super().__init__()
        self.reprompt_after_s = reprompt_after_s
        self.max_reprompts = max_reprompts
        self.max_duration_s = max_duration_s
        self.language = language
        self.reprompts = 0
        self._ctx = ctx
        self._user_speaking = False
        self._bot_speaking = False
        self._ending = False
        self._silence: Optional[asyncio.TimerHandle] = None
        self._limit: Optional[asyncio.TimerHandle] = None
        self._task: Optional[asyncio.Task[None]] = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._limit = loop.call_later(self.max_duration_s, self._ctx.hang_up, "max_duration")
        self._restart()

    async def stop(self) -> None:
        self._pause()
        if self._limit is not None:
            self._limit.cancel()
        await cancel_and_wait(self._task)

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, UserStartedSpeakingFrame):
            self._user_speaking = True
            self._pause()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_speaking = False
            self._restart()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            self._pause()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._restart()
        elif isinstance(frame, DtmfFrame) or (isinstance(frame, UserTurnFrame) and not frame.speculative):
            self.reprompts = 0
            self._restart()
        await self.push(frame, direction)

    def _pause(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None

    def _restart(self) -> None:
        self._pause()
        if not (self._user_speaking or self._bot_speaking or self._ending):
            self._silence = asyncio.get_running_loop().call_later(self.reprompt_after_s, self._on_silence)

    def _on_silence(self) -> None:
        self._silence = None
        self._task = asyncio.get_running_loop().create_task(self._speak_up(), name="silence-watch")

    async def _speak_up(self) -> None:
        if self.reprompts < self.max_reprompts:
            self.reprompts += 1
            await self.push(SpeakFrame(reprompt_text(self.language), "reprompt"))
            self._restart()  # if the re-prompt is never heard, the clock still runs
        else:
            self._ending = True
            await self.push(SpeakFrame(silence_goodbye_text(self.language), "goodbye"))
            await self.push(EndCallFrame("silence"))
