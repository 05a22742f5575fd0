"""Caller audio into the call's speech-to-text session; its hypotheses back out as frames.

The session opens in the background when the call starts (a cloud recogniser takes a round trip
or two), so the greeting never waits for it; audio that arrives meanwhile is buffered and fed
first. Hypothesis times are moved onto the stream's clock (call start = 0).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Optional

from callingbox.core.observability import get_logger

from ..engines.stt import SpeechToText, SttSession
from ..frames import CallerAudioFrame, Frame, TranscriptFrame
from ..pipeline import CallContext, Direction, Processor, cancel_and_wait

__all__ = ["SpeechRecognition", "PREOPEN_BUFFER_FRAMES", "STT_CLOSE_TIMEOUT_S"]

# Audio kept while the session opens (10 s of 20 ms frames); beyond it the oldest is dropped.
PREOPEN_BUFFER_FRAMES = 500
# Bounded wait for the recogniser to flush and close when the call ends.
STT_CLOSE_TIMEOUT_S = 2.0


class SpeechRecognition(Processor):
    """Feeds :class:`CallerAudioFrame` PCM to the STT session; pushes :class:`TranscriptFrame` s."""

    def __init__(self, stt: SpeechToText, *, language: str, ctx: CallContext, hints: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._stt = stt
        self._language = language
        self._hints = hints
        self._ctx = ctx
        self._session: Optional[SttSession] = None
        self._pending: deque[CallerAudioFrame] = deque(maxlen=PREOPEN_BUFFER_FRAMES)
        self._origin_ms: Optional[int] = None
        self._opener: Optional[asyncio.Task[None]] = None
        self._reader: Optional[asyncio.Task[None]] = None

    async def start(self) -> None:
        self._opener = asyncio.get_running_loop().create_task(self._open(), name=f"stt-open:{self._ctx.call_id}")

    async def _open(self) -> None:
        try:
            session = await self._stt.open(language=self._language, hints=self._hints)
            while self._pending:  # frames keep arriving while we feed the backlog
                frame = self._pending.popleft()
                if self._origin_ms is None:
                    self._origin_ms = frame.offset_ms
                await session.send_audio(frame.pcm)
        except Exception as error:  # noqa: BLE001 - the call cannot go on without recognition
            self._ctx.fail("stt_failed", error)
            return
        self._session = session
        self._reader = asyncio.get_running_loop().create_task(self._read(session), name=f"stt-read:{self._ctx.call_id}")

    async def _read(self, session: SttSession) -> None:
        try:
            async for result in session.results():
                origin = self._origin_ms or 0
                await self.push(TranscriptFrame(result.text, result.is_final, result.stable, origin + result.start_ms,
                                                origin + result.end_ms, self._ctx.clock()))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001
            self._ctx.fail("stt_failed", error)

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, CallerAudioFrame):
            session = self._session
            if session is None:
                self._pending.append(frame)
            else:
                if self._origin_ms is None:
                    self._origin_ms = frame.offset_ms
                try:
                    await session.send_audio(frame.pcm)
                except Exception as error:  # noqa: BLE001
                    self._ctx.fail("stt_failed", error)
        await self.push(frame, direction)

    async def stop(self) -> None:
        await cancel_and_wait(self._opener)
        session, self._session = self._session, None
        if session is not None:
            try:
                await asyncio.wait_for(session.close(), STT_CLOSE_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001 - the call is over either way; note it and go on
                get_logger("gateway").warning("speech recognition did not close cleanly",
                                              extra={"call_id": self._ctx.call_id, "error": repr(error)})
        await cancel_and_wait(self._reader)
