"""Offline streaming speech recognition with pocketsphinx 5 and the English model it ships.

Each session has a decoder (from a per-process pool) and a worker thread: audio is cut into the
endpointer's frames, the endpointer (pocketsphinx's VAD) finds utterances, the decoder's changing
hypothesis goes out as partial :class:`Transcript` s, re-sent with ``stable=True`` once unchanged
for :data:`STABLE_AFTER_MS` of audio, and a final one ends each utterance (or the session).

Choices, measured on espeak-ng speech through the 8 kHz μ-law line (tests/gateway/engines):

* The model is wideband. Its front end at ``samprate=8000`` (``nfft=256``, ``upperf`` 3500-4000)
  recognized 0 of 25 phrases, so speech is upsampled to 16 kHz (in C) for the model's own front end.
* With ``hints`` the decoder searches a small JSGF grammar (hints, yes/no, numbers, dates, lead-ins
  such as "my name is"): 21-23 of 25 phrases, against 5-10 with the general language model.
  Hint words missing from the pronunciation dictionary are dropped.
* Exact digital silence (only synthetic audio has it) and quiet pieces at an utterance's edges are
  not decoded: the silence model fits neither and both caused insertions. The final result comes
  from a second pass normalized with the utterance's own cepstral mean.
* pocketsphinx holds the GIL inside every call, so work is fed in small pieces (at most ~8 ms of
  event-loop lag while streaming) and decoders are pooled (building one holds it 0.15-0.4 s).

CPU (one core of an AMD EPYC): about 0.03 x real time per session with hints (both passes),
0.08-0.16 x with the general model.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from callingbox.core.media.mulaw import resample_pcm16, rms

from .local_stt_grammar import build_grammar
from .stt import SAMPLE_RATE, SpeechToText, SttSession, Transcript

__all__ = ["PocketsphinxStt", "STABLE_AFTER_MS"]

logger = logging.getLogger(__name__)

DECODER_RATE = 16000  # the shipped model's rate; 8 kHz input is upsampled to it
STABLE_AFTER_MS = 200  # a partial unchanged for this much audio is marked stable (endpointing acts on it)
VAD_WINDOW_S = 0.3  # the endpointer decides over this window...
VAD_RATIO = 0.9  # ...once this fraction of it is speech (or non-speech)
EDGE_FLOOR_RMS = 100  # quieter 10 ms pieces at an utterance's start or end are line noise, not speech
PIECE_BYTES = SAMPLE_RATE // 100 * 2  # 10 ms of 8 kHz PCM16: the unit of silence trimming
MAX_UTTERANCE_MS = 30_000  # an utterance this long is finalized anyway (bounds memory and latency)
GRAMMAR_LW = 20.0  # language weight for the grammar: favours short, likely paths over digit soup
LM_MAX_HMMS = 5000  # search cap for the general model: 0.16 x real time instead of 0.26, same accuracy
# The final pass feeds the utterance in pieces this long (100 ms at 16 kHz): pocketsphinx holds the
# GIL inside each call, and one call over a whole utterance stalled the event loop 40 ms per second.
SECOND_PASS_CHUNK_BYTES = DECODER_RATE // 10 * 2
MAX_IDLE_DECODERS = 8  # per kind; each holds the model's tables (~30 MB with the general model)
CLOSE_TIMEOUT_S = 5.0  # close() waits at most this long for the worker to flush
# Carriers send audio (silence too) every 20 ms: this long without any means close() never came.
IDLE_TIMEOUT_S = 300.0


class PocketsphinxStt(SpeechToText):
    """Opens offline recognition sessions (English only: the package ships one English model)."""

    async def open(self, *, language: str, hints: tuple[str, ...] = ()) -> SttSession:
        """A new session; its decoder comes from the process's pool, or is built in a worker thread."""
        if not language.lower().startswith("en"):
            logger.warning("pocketsphinx ships an English model only; recognizing %s as English", language)
        decoder = await asyncio.to_thread(_POOL.acquire, tuple(hints))
        return _Session(decoder, asyncio.get_running_loop())


@dataclass
class _Decoder:
    """A pocketsphinx decoder with what resetting it for the next session needs."""

    decoder: Any
    grammar: bool  # built for hint grammars (no language model loaded) rather than the general model
    initial_cmn: str


class _DecoderPool:
    """Idle decoders, reused across sessions (per process: the GIL's unit).

    Building a decoder loads the model for 0.15 s (grammar) to 0.4 s (general model) with the GIL
    held, stalling the event loop and every call in the process; switching a pooled decoder to
    another grammar takes well under a millisecond.
    """

    def __init__(self) -> None:
        self._idle: dict[bool, list[_Decoder]] = {True: [], False: []}
        self._lock = threading.Lock()

    def acquire(self, hints: tuple[str, ...]) -> _Decoder:
        """A decoder set up for ``hints`` (blocking: call it in a worker thread)."""
        grammar = bool(hints)
        with self._lock:
            pooled = self._idle[grammar].pop() if self._idle[grammar] else None
        pooled = pooled or _new_decoder(grammar)
        if grammar:
            decoder = pooled.decoder
            decoder.add_jsgf_string("hints", build_grammar(hints, lambda w: decoder.lookup_word(w) is not None))
            decoder.activate_search("hints")
        return pooled

    def release(self, pooled: _Decoder) -> None:
        """Take a decoder back once its session is over (from any thread)."""
        pooled.decoder.set_cmn(pooled.initial_cmn)  # the next caller must not inherit this one's levels
        with self._lock:
            if len(self._idle[pooled.grammar]) < MAX_IDLE_DECODERS:
                self._idle[pooled.grammar].append(pooled)


def _new_decoder(grammar: bool) -> _Decoder:
    import pocketsphinx  # imported here: only the voice gateway needs it

    if grammar:
        # The lattice best-path pass picked results the grammar does not allow: off for grammars.
        decoder = pocketsphinx.Decoder(lm=None, lw=GRAMMAR_LW, bestpath=False, loglevel="FATAL")
    else:
        # The general language model. Its passes over the word lattice cost a lot of CPU for
        # little gain here, and pocketsphinx holds the GIL while it works: off, and the search
        # is capped, so that no 30 ms frame stalls the event loop for long.
        decoder = pocketsphinx.Decoder(loglevel="FATAL", fwdflat=False, bestpath=False, maxhmmpf=LM_MAX_HMMS)
    return _Decoder(decoder, grammar, decoder.get_cmn())


_POOL = _DecoderPool()


_CLOSE = object()
_END = object()


class _Session(SttSession):
    """One stream: the event loop feeds :meth:`send_audio`, a worker thread decodes."""

    def __init__(self, pooled: _Decoder, loop: asyncio.AbstractEventLoop) -> None:
        import pocketsphinx

        self._pooled = pooled
        self._decoder: Any = pooled.decoder
        # The grammar's final pass is cheap and worth it; the general model's would double its CPU.
        self._second_pass = pooled.grammar
        self._endpointer = pocketsphinx.Endpointer(window=VAD_WINDOW_S, ratio=VAD_RATIO, sample_rate=SAMPLE_RATE)
        self._loop = loop
        self._inbox: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self._out: asyncio.Queue[object] = asyncio.Queue()
        self._finished = asyncio.Event()
        self._closed = False
        self._audio_ms = 0  # audio consumed so far: the session's clock
        self._ended_ms = 0  # where the last utterance ended
        self._reset_utterance()
        self._thread = threading.Thread(target=self._run, name="pocketsphinx-session", daemon=True)
        self._thread.start()

    def _reset_utterance(self) -> None:
        self._in_utterance = False
        self._start_ms = 0
        self._heard = False  # a piece above the floor arrived: later quiet pieces are interior
        self._quiet: list[bytes] = []  # quiet pieces held back until speech follows them
        self._audio: list[bytes] = []  # the utterance at 16 kHz, for the final re-decode
        self._resample_state: object = None
        self._partial = ""
        self._changed_ms = 0
        self._stable_sent = False

    async def send_audio(self, pcm16: bytes) -> None:
        """Queue 8 kHz PCM16 for the worker; returns at once."""
        if self._closed:
            logger.debug("audio after close dropped (%d bytes)", len(pcm16))
            return
        self._inbox.put(bytes(pcm16))

    async def results(self) -> AsyncIterator[Transcript]:
        """Partials and finals in order; ends after :meth:`close` (re-raises a worker error)."""
        while (item := await self._out.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    async def close(self) -> None:
        """Finalize any utterance in progress and stop the worker."""
        if not self._closed:
            self._closed = True
            self._inbox.put(_CLOSE)
        try:
            await asyncio.wait_for(self._finished.wait(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            logger.warning("pocketsphinx worker did not finish within %.1f s", CLOSE_TIMEOUT_S)

    # --- worker thread ---
    def _emit(self, item: object) -> None:
        self._emit_call(self._out.put_nowait, item)

    def _emit_call(self, callback: Callable[..., object], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            logger.debug("pocketsphinx result dropped: event loop closed")

    def _run(self) -> None:
        frame_bytes = self._endpointer.frame_bytes
        buffer = bytearray()
        try:
            while (chunk := self._next_chunk()) is not _CLOSE:
                buffer += chunk  # type: ignore[operator]
                while len(buffer) >= frame_bytes:
                    frame = bytes(buffer[:frame_bytes])
                    del buffer[:frame_bytes]
                    self._process_frame(frame)
            if self._endpointer.in_speech:
                tail = self._endpointer.end_stream(bytes(buffer))
                if tail:
                    self._feed(tail)
            if self._in_utterance:
                self._finish_utterance()
            _POOL.release(self._pooled)  # only after a clean end: a failed decoder is not reused
        except Exception as error:  # noqa: BLE001 - surfaced to the reader of results(), not swallowed
            self._emit(error)
        finally:
            self._emit(_END)
            self._emit_call(self._finished.set)

    def _next_chunk(self) -> object:
        try:
            return self._inbox.get(timeout=IDLE_TIMEOUT_S)
        except queue.Empty:
            logger.warning("pocketsphinx session idle for %.0f s without close(); ending it", IDLE_TIMEOUT_S)
            return _CLOSE

    def _process_frame(self, frame: bytes) -> None:
        speech = self._endpointer.process(frame)
        self._audio_ms += len(frame) * 1000 // (2 * SAMPLE_RATE)
        if speech is not None:
            if not self._in_utterance:
                self._in_utterance = True
                # After a forced finish the endpointer's speech_start still points at the old start.
                self._start_ms = max(int(self._endpointer.speech_start * 1000), self._ended_ms)
                self._decoder.start_utt()
            self._feed(speech)
            if not self._endpointer.in_speech or self._audio_ms - self._start_ms >= MAX_UTTERANCE_MS:
                self._finish_utterance()
                return
        self._mark_stable()

    def _feed(self, speech: bytes) -> None:
        kept: list[bytes] = []
        for start in range(0, len(speech), PIECE_BYTES):
            piece = speech[start:start + PIECE_BYTES]
            level = rms(piece)
            if level == 0:
                continue  # digital silence carries nothing and derails the silence model
            if level <= EDGE_FLOOR_RMS:
                self._quiet.append(piece)  # kept only if speech follows (an interior pause)
                continue
            if self._heard:
                kept.extend(self._quiet)
            self._quiet.clear()
            self._heard = True
            kept.append(piece)
        if not kept:
            return
        wide, self._resample_state = resample_pcm16(b"".join(kept), SAMPLE_RATE, DECODER_RATE, self._resample_state)
        self._audio.append(wide)
        self._decoder.process_raw(wide)
        hypothesis = self._decoder.hyp()
        text = hypothesis.hypstr if hypothesis is not None else ""
        if text and text != self._partial:
            self._partial, self._changed_ms, self._stable_sent = text, self._audio_ms, False
            self._send(text, final=False, stable=False)

    def _mark_stable(self) -> None:
        if (self._in_utterance and self._partial and not self._stable_sent
                and self._audio_ms - self._changed_ms >= STABLE_AFTER_MS):
            self._stable_sent = True
            self._send(self._partial, final=False, stable=True)

    def _send(self, text: str, *, final: bool, stable: bool) -> None:
        self._emit(Transcript(text=text, is_final=final, stable=stable, start_ms=self._start_ms, end_ms=self._audio_ms))

    def _finish_utterance(self) -> None:
        decoder = self._decoder
        decoder.end_utt()
        text = self._partial
        if self._second_pass and self._audio:
            # Again, normalized with this utterance's own cepstral mean: the live pass started from
            # a mean that fits wideband speech (or the previous utterance).
            decoder.set_cmn(decoder.get_cmn(True))
            decoder.start_utt()
            audio = b"".join(self._audio)
            for start in range(0, len(audio), SECOND_PASS_CHUNK_BYTES):
                decoder.process_raw(audio[start:start + SECOND_PASS_CHUNK_BYTES])
            decoder.end_utt()
            hypothesis = decoder.hyp()
            text = hypothesis.hypstr if hypothesis is not None and hypothesis.hypstr else text
        if text:
            self._send(text, final=True, stable=True)
        self._ended_ms = self._audio_ms
        self._reset_utterance()
