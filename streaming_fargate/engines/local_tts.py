"""Offline text-to-speech: espeak-ng's C library through ctypes.

``espeakng-loader`` ships the shared library and its data, so nothing comes from apt and nothing
runs in a subprocess. espeak-ng keeps one global state per process and is not thread-safe, so the
library is initialized once (lazily, on first use) and every synthesis holds :data:`_LOCK`; the
synthesis itself runs in a worker thread so the event loop never blocks. Audio leaves espeak at
its native 22,050 Hz and is resampled to 8 kHz and encoded as μ-law once, in C
(:mod:`callingbox.core.media.mulaw`), chunk by chunk as espeak produces it.

Limitations: ``audioop.ratecv`` has no anti-aliasing filter, so some energy above 4 kHz folds
back into the band (audible as a slight hiss on fricatives); good enough for a local stand-in.
"""

from __future__ import annotations

import asyncio
import ctypes
import re
import threading
from typing import AsyncIterator, Callable, Optional

from callingbox.core.media.mulaw import SAMPLE_RATE, pcm16_to_ulaw, resample_pcm16

from .tts import TextToSpeech

__all__ = ["EspeakTts", "synthesize_ulaw", "resolve_voice", "ESPEAK_SAMPLE_RATE", "CHUNK_MS", "DEFAULT_VOICE",
           "CALLER_VOICE"]

ESPEAK_SAMPLE_RATE = 22050  # espeak-ng's native output rate (checked against espeak_Initialize)
# espeak calls us back with this much audio at a time: small enough that the first chunk leaves
# within milliseconds, large enough that per-chunk overhead (thread hop, C calls) stays negligible.
CHUNK_MS = 100
DEFAULT_VOICE = "en-us"
# For a simulated caller (the local carrier's callee, tests). espeak's default voices add pitch
# "flutter" driven by a process-wide counter, so the same text sounds slightly different on every
# call; this variant has none (same text, same bytes) and is the one the local recognizer hears
# best (22 of 25 test phrases, against 18-19 for en-us).
CALLER_VOICE = "en-us+Hugo"
# espeak-ng's API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # the callback runs inside espeak_Synth, on the calling thread
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
# A language tag (en-us, fr, en-gb-x-rp) with an optional espeak variant (+f2). Anything else,
# such as an Amazon Polly voice name ("Joanna"), is not an espeak voice and falls back.
_VOICE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*(\+[A-Za-z0-9_-]+)?$")

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _VoiceProperties(ctypes.Structure):
    """espeak_VOICE, for selecting a voice by language."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


class _Espeak:
    """The process's espeak-ng; callers must hold :data:`_LOCK` around every method."""

    def __init__(self) -> None:
        import espeakng_loader  # imported here: only the voice gateway needs it

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceProperties)]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, CHUNK_MS,
                                     espeakng_loader.get_data_path().encode(), 0)
        if rate != ESPEAK_SAMPLE_RATE:
            raise RuntimeError(f"espeak-ng failed to initialize (returned {rate})")
        self._lib = lib
        self._sink: Optional[Callable[[bytes], bool]] = None
        self._voice: Optional[str] = None
        self._aborted = False
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SynthCallback(self._on_samples)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_samples(self, wav: "ctypes._Pointer[ctypes.c_short]", count: int, _events: int) -> int:
        if not wav or count <= 0 or self._sink is None:
            return 0
        if self._sink(ctypes.string_at(wav, count * 2)):
            return 0
        self._aborted = True
        return 1  # tells espeak to stop: the listener went away (barge-in, cancellation)

    def _set_voice(self, candidates: tuple[str, ...]) -> None:
        for tag in candidates:
            if tag == self._voice:
                return
            if not _VOICE_TAG.match(tag):
                continue
            language, plus, variant = tag.partition("+")
            # Language tags are case-insensitive; variant names are file names (Andy, shelby).
            if self._lib.espeak_SetVoiceByName(f"{language.lower()}{plus}{variant}".encode()) == _EE_OK:
                self._voice = tag
                return
            props = _VoiceProperties(languages=language.lower().encode())
            if self._lib.espeak_SetVoiceByProperties(ctypes.byref(props)) == _EE_OK:
                self._voice = tag
                return
        raise RuntimeError(f"no espeak-ng voice for any of {candidates}")

    def select(self, voices: tuple[str, ...]) -> str:
        """Switch to the first usable voice and name it."""
        self._set_voice(voices)
        return self._voice or DEFAULT_VOICE

    def synthesize(self, text: str, voices: tuple[str, ...], sink: Callable[[bytes], bool]) -> None:
        """Synthesize ``text`` with the first usable voice; ``sink`` gets 22.05 kHz PCM16 chunks."""
        self._set_voice(voices)
        data = text.encode("utf-8") + b"\0"
        self._sink, self._aborted = sink, False
        try:
            status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        finally:
            self._sink = None
        if status != _EE_OK and not self._aborted:
            raise RuntimeError(f"espeak-ng synthesis failed (status {status})")


_LOCK = threading.Lock()  # espeak-ng is process-global and not thread-safe
_engine: Optional[_Espeak] = None


def _espeak() -> _Espeak:
    # One instance per process because the C library itself holds one global state; a second
    # espeak_Initialize would reset it under a synthesis in progress. Caller holds _LOCK.
    global _engine
    if _engine is None:
        _engine = _Espeak()
    return _engine


def _voice_candidates(voice: Optional[str], language: Optional[str]) -> tuple[str, ...]:
    return tuple(v for v in (voice, language, DEFAULT_VOICE) if v)


class _UlawEncoder:
    """22.05 kHz PCM16 chunks to 8 kHz μ-law, keeping the resampler's state across chunks."""

    def __init__(self) -> None:
        self._state: object = None

    def encode(self, pcm16: bytes) -> bytes:
        narrow, self._state = resample_pcm16(pcm16, ESPEAK_SAMPLE_RATE, SAMPLE_RATE, self._state)
        return pcm16_to_ulaw(narrow)


def _synthesize_blocking(text: str, voices: tuple[str, ...], sink: Callable[[bytes], bool]) -> None:
    encoder = _UlawEncoder()
    with _LOCK:
        _espeak().synthesize(text, voices, lambda pcm: sink(encoder.encode(pcm)))


def resolve_voice(voice: Optional[str], language: Optional[str]) -> str:
    """The espeak voice that ``voice``/``language`` select (blocking: call it off the event loop)."""
    with _LOCK:
        return _espeak().select(_voice_candidates(voice, language))


def synthesize_ulaw(text: str, voice: str = DEFAULT_VOICE) -> bytes:
    """The whole of ``text`` as 8 kHz μ-law, synchronously (tests, the local carrier's callee)."""
    chunks: list[bytes] = []

    def keep(chunk: bytes) -> bool:
        chunks.append(chunk)
        return True

    if text.strip():
        _synthesize_blocking(text, _voice_candidates(voice, None), keep)
    return b"".join(chunks)


_DONE = object()


class EspeakTts(TextToSpeech):
    """Local speech synthesis with espeak-ng: μ-law 8 kHz in ~:data:`CHUNK_MS` pieces.

    ``voice`` may be an espeak voice (``en-us``, ``en-gb``, ``en-us+f2``); anything espeak does not
    know (an Amazon Polly name such as ``Joanna``) falls back to ``language``, then ``en-us``.
    """

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        """μ-law chunks as espeak produces them; closing the iterator aborts the synthesis."""
        if not text.strip():
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stopped = threading.Event()

        def deliver(item: object) -> bool:
            if stopped.is_set():
                return False
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop closed under us: nobody is listening any more
                return False
            return True

        def run() -> None:
            try:
                _synthesize_blocking(text, _voice_candidates(voice, language), deliver)
            finally:
                deliver(_DONE)

        worker = asyncio.ensure_future(asyncio.to_thread(run))
        # When the listener leaves early the worker's outcome is nobody's; retrieve it so that an
        # error is not reported as "never retrieved" (it is re-raised below when someone waits).
        worker.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            while (item := await queue.get()) is not _DONE:
                yield item  # type: ignore[misc]
            await worker  # re-raise a synthesis error
        finally:
            stopped.set()
