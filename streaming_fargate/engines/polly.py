"""Amazon Polly behind the :class:`~.tts.TextToSpeech` port: μ-law at 8 kHz, straight from the service.

``SynthesizeSpeech`` with ``OutputFormat="mulaw"`` and ``SampleRate="8000"`` returns exactly the
carrier's wire format, so nothing is transcoded. The request and the reads of ``AudioStream`` (a
botocore ``StreamingBody``) are blocking, so they run in a worker thread; each chunk is yielded
as soon as it is read, so playout can start on the first bytes while Polly is still sending.

boto3 is imported lazily, inside the default client factory, so this module imports without it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Literal, Optional, get_args

from .aws_clients import ClientFactory, aws_client_factory
from .blocking_stream import iterate_in_thread
from .tts import TextToSpeech

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.settings import Settings

__all__ = ["PollyTts", "PollyEngine", "polly_client_factory", "CHUNK_BYTES", "OUTPUT_FORMAT", "SAMPLE_RATE"]

PollyEngine = Literal["standard", "neural", "generative", "long-form"]

OUTPUT_FORMAT = "mulaw"
SAMPLE_RATE = "8000"  # Polly takes the rate as a string; 8000 is the only one μ-law allows
# 100 ms of 8 kHz μ-law. A read returns once this many bytes have arrived (or the body ends), so it
# is the most audio the first chunk waits for; Polly sends far faster than real time.
CHUNK_BYTES = 800
# A sentence is synthesized in well under a second; a stuck request must not hold the turn.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
# One retry on throttling or a 5xx, then the turn goes on without this chunk of speech.
MAX_ATTEMPTS = 2



def polly_client_factory(settings: "Settings") -> ClientFactory:
    """The default client factory: a ``polly`` client for ``settings.region``."""
    return aws_client_factory("polly", settings, connect_timeout_s=CONNECT_TIMEOUT_S,
                              read_timeout_s=READ_TIMEOUT_S, max_attempts=MAX_ATTEMPTS)


class PollyTts(TextToSpeech):
    """Synthesizes with Amazon Polly.

    Parameters
    ----------
    engine:
        ``standard``, ``neural`` (default), ``generative`` or ``long-form``; the voice must support it.
    client_factory:
        Returns a ``polly`` client; called once, in a worker thread. Defaults to
        :func:`polly_client_factory` over ``settings`` (``Settings.from_env()`` when omitted).

    Limitations
    -----------
    ``language`` is sent as ``LanguageCode`` only when it is a full locale (``en-IN``): Polly uses it
    just to pick the language of a bilingual voice, and a bare ``en`` is not a Polly code.
    """

    def __init__(
        self,
        *,
        engine: PollyEngine = "neural",
        client_factory: Optional[ClientFactory] = None,
        settings: Optional["Settings"] = None,
    ) -> None:
        if engine not in get_args(PollyEngine):
            raise ValueError(f"unknown Polly engine {engine!r}; use one of {get_args(PollyEngine)}")
        if client_factory is None:
            from callingbox.core.settings import Settings

            client_factory = polly_client_factory(settings or Settings.from_env())
        self._engine = engine
        self._client_factory = client_factory
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def engine(self) -> PollyEngine:
        """The Polly engine requests use."""
        return self._engine

    def request(self, text: str, *, voice: str, language: str) -> dict[str, Any]:
        """The ``synthesize_speech`` keyword arguments for one chunk of text."""
        kwargs: dict[str, Any] = {
            "Text": text,
            "VoiceId": voice,
            "OutputFormat": OUTPUT_FORMAT,
            "SampleRate": SAMPLE_RATE,
            "Engine": self._engine,
        }
        if "-" in language:
            kwargs["LanguageCode"] = language
        return kwargs

    async def synthesize(self, text: str, *, voice: str, language: str) -> AsyncIterator[bytes]:
        """μ-law 8 kHz audio for ``text``, chunk by chunk as Polly sends it."""
        if not text.strip():
            return
        kwargs = self.request(text, voice=voice, language=language)
        async with contextlib.aclosing(iterate_in_thread(lambda: self._open(kwargs), name="polly-synthesize")) as chunks:
            async for chunk in chunks:
                yield chunk

    def _open(self, kwargs: dict[str, Any]) -> tuple[Iterable[bytes], Callable[[], None]]:
        """Worker thread: send the request; return the audio chunks and the body's close function."""
        with self._client_lock:
            if self._client is None:
                self._client = self._client_factory()
        body = self._client.synthesize_speech(**kwargs)["AudioStream"]
        return iter(lambda: body.read(CHUNK_BYTES), b""), body.close
