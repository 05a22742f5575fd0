"""Amazon Transcribe streaming behind the :class:`~.stt.SpeechToText` port (``amazon-transcribe``).

One :class:`TranscribeSession` is one HTTP/2 ``StartStreamTranscription`` stream: 16-bit PCM at
8 kHz in, ``Result`` objects out. Partial-results stabilization is on (stability ``high``), and a
partial is reported ``stable`` when every one of its items is, which is what endpointing acts on.

How the session treats the service's known sharp edges:

- **15 s without audio ends the stream** (``BadRequestException: ... no new audio was received for
  15 seconds``). A sender task feeds :data:`KEEPALIVE_SILENCE_MS` of silence whenever no audio has
  arrived for :data:`KEEPALIVE_AFTER_S`, so a quiet or stalled carrier never kills recognition.
- **Signature expiry on long streams.** Each audio event is signed when it is *sent*, and the
  service rejects an event it gets to more than 5 minutes after its signature. Carrier audio comes
  in real time and each chunk is signed and sent as it arrives, so calls of any length are fine;
  never feed a session faster than real time (a recording, a replayed backlog).
- **CPU.** Measured with the real SDK over a loopback transport (120 s of 20 ms frames, five
  results per second back; Python 3.11, x86-64): about 3 ms of CPU per second of audio, i.e.
  ~0.3 % of one core per stream, and a profile puts about half of that in the loopback service's
  own frame decoding, so queueing + event signing + framing + result parsing cost ~0.15 % of a core.
  Not included: the SDK's HTTP/2 layer (``awscrt``) is known to poll the request body in a busy
  loop and can burn up to a full core per open stream on some images (awslabs/
  amazon-transcribe-streaming-sdk issues #25, #84, #109). That cost is in C, invisible offline;
  load-test streams per task on the Fargate image before sizing it.

``amazon_transcribe`` is imported lazily, on the first :meth:`TranscribeStt.open`, so this module
imports without the voice extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Optional, Union

from .stt import SAMPLE_RATE, SpeechToText, SttSession, Transcript

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.settings import Settings

__all__ = [
    "TranscribeStt",
    "TranscribeSession",
    "transcribe_client_factory",
    "to_transcript",
    "transcribe_language",
    "KEEPALIVE_AFTER_S",
    "KEEPALIVE_SILENCE_MS",
    "FINAL_RESULTS_TIMEOUT_S",
    "MAX_AUDIO_EVENT_BYTES",
]

logger = logging.getLogger(__name__)

# Transcribe ends a stream after 15 s without audio. A third of that leaves room for an event-loop
# stall or a slow credential refresh before the service gives up on us.
KEEPALIVE_AFTER_S = 5.0
# Long enough to count as audio, short enough to barely move Transcribe's audio clock
# (its StartTime/EndTime count audio sent, so keep-alive silence shifts later offsets by this much).
KEEPALIVE_SILENCE_MS = 100
# After end-of-stream the service flushes its last final result within about a second; bounded so
# that a hang-up never waits on the network.
FINAL_RESULTS_TIMEOUT_S = 3.0
# The service accepts at most 32 KiB per AudioEvent; 32000 bytes keeps whole 16-bit samples.
MAX_AUDIO_EVENT_BYTES = 32000

_BYTES_PER_SAMPLE = 2
_STABILITY = "high"
_MEDIA_ENCODING = "pcm"

# ISO 639-1 (what an agent's ``language`` holds) to the Transcribe locale we pick for it. A full
# locale such as ``en-GB`` is passed through as given.
_DEFAULT_LOCALES = {
    "ar": "ar-SA",
    "da": "da-DK",
    "de": "de-DE",
    "en": "en-US",
    "es": "es-US",
    "fr": "fr-FR",
    "hi": "hi-IN",
    "it": "it-IT",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "nl": "nl-NL",
    "pt": "pt-BR",
    "sv": "sv-SE",
    "zh": "zh-CN",
}

ClientFactory = Callable[[], Any]


class _End:
    """Marks the end of the results queue."""


_END = _End()
_ResultItem = Union[Transcript, BaseException, _End]


def transcribe_language(language: str) -> str:
    """The Transcribe ``LanguageCode`` for an agent language (``"en"`` -> ``"en-US"``).

    Raises ``ValueError`` for a bare language we have no default locale for; pass a full locale
    (``"en-AU"``) to choose one explicitly.
    """
    code = (language or "").strip()
    if "-" in code:
        base, _, region = code.partition("-")
        return f"{base.lower()}-{region.upper()}"
    try:
        return _DEFAULT_LOCALES[code.lower()]
    except KeyError:
        raise ValueError(
            f"no Transcribe locale for language {language!r}; set a full locale such as 'en-GB', "
            f"or one of {sorted(_DEFAULT_LOCALES)}"
        ) from None


def to_transcript(result: Any) -> Optional[Transcript]:
    """Map one amazon-transcribe ``Result`` to our :class:`Transcript` (``None`` when it has no text).

    ``stable`` is true for a final result, and for a partial whose every item says ``Stable``.
    """
    alternatives = result.alternatives or []
    if not alternatives:
        return None
    best = alternatives[0]
    text = (best.transcript or "").strip()
    if not text:
        return None
    is_final = not result.is_partial
    items = best.items or []
    stable = is_final or (bool(items) and all(item.stable for item in items))
    return Transcript(
        text=text,
        is_final=is_final,
        stable=stable,
        start_ms=round((result.start_time or 0.0) * 1000),
        end_ms=round((result.end_time or 0.0) * 1000),
    )


def transcribe_client_factory(settings: "Settings") -> ClientFactory:
    """The default client factory: a ``TranscribeStreamingClient`` for ``settings.region``.

    Credentials come from the CRT default chain (the task role on Fargate). The local emulation's
    endpoint is not used: it has no Transcribe.
    """

    def build() -> Any:
        from amazon_transcribe.client import TranscribeStreamingClient

        return TranscribeStreamingClient(region=settings.region)

    return build


class TranscribeSession(SttSession):
    """One open Transcribe stream: a sender task (audio + keep-alive) and a reader task (results).

    Build it with :meth:`TranscribeStt.open`. ``send_audio`` only enqueues, so it never blocks the
    event loop; audio sent after :meth:`close` is dropped.
    """

    def __init__(self, stream: Any, *, keepalive_after_s: float, keepalive_silence_ms: int) -> None:
        self._stream = stream
        self._keepalive_after_s = keepalive_after_s
        samples = SAMPLE_RATE * keepalive_silence_ms // 1000
        self._silence = bytes(samples * _BYTES_PER_SAMPLE)
        self._audio: asyncio.Queue[Optional[bytes]] = asyncio.Queue()
        self._results: asyncio.Queue[_ResultItem] = asyncio.Queue()
        self._closed = False
        self.keepalives_sent = 0
        self._sender = asyncio.create_task(self._send_loop(), name="transcribe-send")
        self._reader = asyncio.create_task(self._read_loop(), name="transcribe-read")

    @property
    def session_id(self) -> Optional[str]:
        """The service's session id (for logs and support cases)."""
        return getattr(self._stream.response, "session_id", None)

    async def send_audio(self, pcm16: bytes) -> None:
        """Queue 16-bit PCM at 8 kHz for the sender task; returns at once."""
        if self._closed or self._sender.done() or not pcm16:
            return  # closed, or the stream failed (the error is waiting in results())
        self._audio.put_nowait(bytes(pcm16))

    async def results(self) -> AsyncIterator[Transcript]:
        """Hypotheses as Transcribe produces them; raises the service's error if the stream fails."""
        while True:
            item = await self._results.get()
            if isinstance(item, _End):
                self._results.put_nowait(item)  # a second reader (or a re-iteration) ends too
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def close(self) -> None:
        """Send what is queued, end the audio stream, wait (bounded) for the last final results."""
        if self._closed:
            return
        self._closed = True
        self._audio.put_nowait(None)
        tasks = {self._sender, self._reader}
        _, pending = await asyncio.wait(tasks, timeout=FINAL_RESULTS_TIMEOUT_S)
        if pending:
            logger.warning("transcribe session %s did not end in time; dropping it", self.session_id)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._results.put_nowait(_END)

    async def _send_loop(self) -> None:
        input_stream = self._stream.input_stream
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(self._audio.get(), self._keepalive_after_s)
                except asyncio.TimeoutError:
                    chunk = self._silence
                    self.keepalives_sent += 1
                if chunk is None:
                    break
                for start in range(0, len(chunk), MAX_AUDIO_EVENT_BYTES):
                    await input_stream.send_audio_event(audio_chunk=chunk[start : start + MAX_AUDIO_EVENT_BYTES])
            await input_stream.end_stream()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream is unusable: tell the results reader
            logger.warning("transcribe audio stream failed: %r", exc)
            self._results.put_nowait(exc)

    async def _read_loop(self) -> None:
        try:
            async for event in self._stream.output_stream:
                transcript = getattr(event, "transcript", None)  # only TranscriptEvent carries one
                if transcript is None:
                    continue
                for result in transcript.results or ():
                    mapped = to_transcript(result)
                    if mapped is not None:
                        self._results.put_nowait(mapped)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # service exceptions arrive in-stream; hand them to the consumer
            self._results.put_nowait(exc)
        finally:
            self._results.put_nowait(_END)


class TranscribeStt(SpeechToText):
    """Opens Amazon Transcribe streams.

    Parameters
    ----------
    client_factory:
        Returns a ``TranscribeStreamingClient``; called once, in a worker thread, on the first
        :meth:`open`. Defaults to
        :func:`transcribe_client_factory` over ``settings`` (``Settings.from_env()`` when omitted).
    keepalive_after_s, keepalive_silence_ms:
        Silence is sent after this long without audio (see :data:`KEEPALIVE_AFTER_S`).

    Limitations
    -----------
    ``hints`` are ignored: Transcribe only takes custom vocabularies created ahead of time, by name.
    """

    def __init__(
        self,
        *,
        client_factory: Optional[ClientFactory] = None,
        settings: Optional["Settings"] = None,
        keepalive_after_s: float = KEEPALIVE_AFTER_S,
        keepalive_silence_ms: int = KEEPALIVE_SILENCE_MS,
    ) -> None:
        if client_factory is None:
            from callingbox.core.settings import Settings

            client_factory = transcribe_client_factory(settings or Settings.from_env())
        self._client_factory = client_factory
        self._client: Any = None
        self._keepalive_after_s = keepalive_after_s
        self._keepalive_silence_ms = keepalive_silence_ms

    async def open(self, *, language: str, hints: tuple[str, ...] = ()) -> TranscribeSession:
        """Start a stream in ``language`` (ISO 639-1 or a full locale) and return its session."""
        language_code = transcribe_language(language)
        if self._client is None:  # building it reads CA certificates: keep that off the event loop
            self._client = await asyncio.to_thread(self._client_factory)
        stream = await self._client.start_stream_transcription(
            language_code=language_code,
            media_sample_rate_hz=SAMPLE_RATE,
            media_encoding=_MEDIA_ENCODING,
            enable_partial_results_stabilization=True,
            partial_results_stability=_STABILITY,
        )
        return TranscribeSession(
            stream,
            keepalive_after_s=self._keepalive_after_s,
            keepalive_silence_ms=self._keepalive_silence_ms,
        )
