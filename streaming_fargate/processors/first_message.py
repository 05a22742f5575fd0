"""The greeting (``first_message``), synthesized before the callee answers and played the moment the
stream starts.

One :class:`GreetingCache` per gateway process keeps each greeting's audio, keyed by agent id,
text, voice, TTS model and language (so an edited agent or another voice never plays a stale
greeting). :meth:`GreetingCache.prewarm` starts synthesis ahead of the call; a call that starts
while it is still running streams the audio as it is produced rather than waiting for all of it,
and a call whose greeting was never prewarmed starts the synthesis itself. Without a
``first_message`` there is nothing to play and the agent waits for the caller.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping, Optional

from callingbox.core.observability import get_logger

from ..engines.tts import TextToSpeech

__all__ = ["GreetingCache", "GreetingKey", "MAX_GREETINGS"]

# Greetings kept per process (least recently used dropped first); one is a few seconds of μ-law,
# about 8 KB a second, so the whole cache stays within a few megabytes.
MAX_GREETINGS = 256

GreetingKey = tuple[str, str, str, str, str]


@dataclass(eq=False)
class _Greeting:
    pieces: list[bytes] = field(default_factory=list)
    done: bool = False
    error: Optional[BaseException] = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: Optional[asyncio.Task[None]] = None

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class GreetingCache:
    """Greeting audio per (agent, text, voice, TTS model, language), synthesized once per process."""

    def __init__(self, *, max_entries: int = MAX_GREETINGS) -> None:
        self._entries: OrderedDict[GreetingKey, _Greeting] = OrderedDict()
        self._max = max_entries

    @staticmethod
    def key(snapshot: Mapping[str, Any], *, voice: str) -> Optional[GreetingKey]:
        """The cache key of the snapshot's greeting, or None when it has no ``first_message``."""
        text = (snapshot.get("first_message") or "").strip()
        if not text:
            return None
        return (str(snapshot.get("id") or ""), text, voice, str(snapshot.get("tts_model") or ""),
                str(snapshot.get("language") or ""))

    def is_ready(self, key: GreetingKey) -> bool:
        """True when the greeting is fully synthesized."""
        entry = self._entries.get(key)
        return entry is not None and entry.done

    def prewarm(self, key: GreetingKey, tts: TextToSpeech) -> None:
        """Start synthesizing ``key``'s greeting unless it is cached or under way (needs a running loop)."""
        self._entry(key, tts)

    def audio(self, key: GreetingKey, tts: TextToSpeech) -> AsyncIterator[bytes]:
        """The greeting's audio: at once when cached, else as the (shared) synthesis produces it."""
        return self._read(self._entry(key, tts))

    def _entry(self, key: GreetingKey, tts: TextToSpeech) -> _Greeting:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        entry = _Greeting()
        self._entries[key] = entry
        while len(self._entries) > self._max:
            _, dropped = self._entries.popitem(last=False)
            if dropped.task is not None and not dropped.done:
                dropped.task.cancel()
        entry.task = asyncio.get_running_loop().create_task(self._synthesize(key, entry, tts),
                                                            name=f"greeting:{key[0]}")
        return entry

    async def _synthesize(self, key: GreetingKey, entry: _Greeting, tts: TextToSpeech) -> None:
        _, text, voice, _, language = key
        try:
            async for piece in tts.synthesize(text, voice=voice, language=language or "en-US"):
                if piece:
                    entry.pieces.append(piece)
                    entry.notify()
            entry.done = True
        except asyncio.CancelledError:
            entry.error = ConnectionAbortedError("greeting synthesis was cancelled")
            raise
        except Exception as error:  # noqa: BLE001 - the waiting calls get it; the next call retries
            get_logger("gateway").warning("greeting synthesis failed", extra={"agent_id": key[0], "error": repr(error)})
            entry.error = error
        finally:
            if not entry.done and self._entries.get(key) is entry:
                del self._entries[key]
            entry.notify()

    @staticmethod
    async def _read(entry: _Greeting) -> AsyncIterator[bytes]:
        position = 0
        while True:
            while position < len(entry.pieces):
                yield entry.pieces[position]
                position += 1
            if entry.done:
                return
            if entry.error is not None:
                raise entry.error
            await entry.changed.wait()

    async def aclose(self) -> None:
        """Cancel syntheses still running (the gateway is stopping)."""
        running = [entry.task for entry in self._entries.values() if entry.task is not None and not entry.task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=1.0)
