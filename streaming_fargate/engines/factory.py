"""Picks each call's engines from its config snapshot (``stt_model``, ``llm_model``, ``tts_model``).

=============  ==========================================  =============================================
field          value                                       adapter
=============  ==========================================  =============================================
stt_model      ``local``                                   ``local_stt.PocketsphinxStt``
               ``transcribe`` | ``aws``                    :class:`~.transcribe.TranscribeStt`
llm_model      ``builtin``                                 ``builtin_dialogue.BuiltinDialogue(snapshot)``
               ``openai:<model>``                          ``openai_compat.OpenAICompatible``
               ``bedrock:<model id>`` | any other id       :class:`~.bedrock.BedrockLlm`
tts_model      ``local``                                   ``local_tts.EspeakTts``
               ``polly`` (neural) | ``standard`` |          :class:`~.polly.PollyTts` with that engine
               ``neural`` | ``generative`` | ``long-form``
=============  ==========================================  =============================================

A missing or null field falls back to the deployment default in :class:`Settings`. Every adapter
module is imported only when chosen, so a deployment without the voice extras (or without AWS)
still builds the engines it uses. Building engines never creates a client or opens a connection.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from .llm import LanguageModel
from .stt import SpeechToText
from .tts import TextToSpeech

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.settings import Settings

    from .polly import PollyEngine

__all__ = ["Engines", "AwsClients", "UnknownModel", "MissingSetting", "build_engines"]

OPENAI_BASE_URL_VARIABLE = "CALLINGBOX_OPENAI_BASE_URL"
OPENAI_API_KEY_VARIABLE = "CALLINGBOX_OPENAI_API_KEY"

_STT_TRANSCRIBE = frozenset({"transcribe", "aws"})
_TTS_POLLY_ENGINES: dict[str, "PollyEngine"] = {
    "polly": "neural",
    "standard": "standard",
    "neural": "neural",
    "generative": "generative",
    "long-form": "long-form",
}
_OPENAI_PREFIX = "openai:"
_BEDROCK_PREFIX = "bedrock:"


class UnknownModel(ValueError):
    """A snapshot names a model this gateway cannot route; ``field`` and ``value`` say which."""

    def __init__(self, field: str, value: object, *, expected: str) -> None:
        super().__init__(f"unknown {field} {value!r}: expected {expected}")
        self.field = field
        self.value = value


class MissingSetting(ValueError):
    """A chosen engine needs a setting that is not there; the message names the variable."""


@dataclass(frozen=True)
class Engines:
    """The three engines one call runs on."""

    stt: SpeechToText
    llm: LanguageModel
    tts: TextToSpeech


@dataclass(frozen=True)
class AwsClients:
    """Factories for the AWS clients, to share clients across calls or to replace them in tests.

    Each is a no-argument callable that an adapter calls once, lazily, on first use; ``None`` means
    "build the default client from settings". Engines are built per call, so to reuse connections
    across calls, return one shared client from the factory (boto3 clients are thread-safe).
    """

    transcribe: Optional[Callable[[], Any]] = None
    bedrock_runtime: Optional[Callable[[], Any]] = None
    polly: Optional[Callable[[], Any]] = None


def build_engines(
    snapshot: Mapping[str, Any],
    *,
    settings: "Settings",
    aws_clients: Optional[AwsClients] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Engines:
    """The engines for one call, chosen from its agent snapshot.

    Parameters
    ----------
    snapshot:
        The call's ``agent_snapshot`` (reads ``stt_model``, ``llm_model``, ``tts_model``; the
        builtin dialogue gets all of it).
    settings:
        Deployment defaults for missing fields, and the AWS region.
    aws_clients:
        Client factories for the AWS adapters (default: built from ``settings``).
    environ:
        Where ``CALLINGBOX_OPENAI_BASE_URL`` and ``CALLINGBOX_OPENAI_API_KEY`` are read
        (default ``os.environ``, read now, never at import).

    Raises
    ------
    UnknownModel
        A field names no engine we have.
    MissingSetting
        ``openai:<model>`` without ``CALLINGBOX_OPENAI_BASE_URL``.
    """
    clients = aws_clients or AwsClients()
    env = os.environ if environ is None else environ
    # Every field is checked before any adapter is built: a bad tts_model must not cost a model load.
    build_stt = _speech_to_text(_field(snapshot, "stt_model", settings.default_stt_model), settings, clients)
    build_llm = _language_model(_field(snapshot, "llm_model", settings.default_llm_model), snapshot, settings, clients, env)
    build_tts = _text_to_speech(_field(snapshot, "tts_model", settings.default_tts_model), settings, clients)
    return Engines(stt=build_stt(), llm=build_llm(), tts=build_tts())


def _field(snapshot: Mapping[str, Any], name: str, default: str) -> str:
    value = snapshot.get(name)
    if value is None:
        value = default
    if not isinstance(value, str) or not value.strip():
        raise UnknownModel(name, value, expected="a non-empty model name")
    return value.strip()


def _speech_to_text(value: str, settings: "Settings", clients: AwsClients) -> Callable[[], SpeechToText]:
    if value == "local":
        return lambda: _adapter_class("local_stt", "PocketsphinxStt")()
    if value in _STT_TRANSCRIBE:

        def transcribe() -> SpeechToText:
            from .transcribe import TranscribeStt

            return TranscribeStt(client_factory=clients.transcribe, settings=settings)

        return transcribe
    raise UnknownModel("stt_model", value, expected="'local', 'transcribe' or 'aws'")


def _language_model(
    value: str, snapshot: Mapping[str, Any], settings: "Settings", clients: AwsClients, env: Mapping[str, str]
) -> Callable[[], LanguageModel]:
    if value == "builtin":
        return lambda: _adapter_class("builtin_dialogue", "BuiltinDialogue")(snapshot)
    if value.startswith(_OPENAI_PREFIX):
        model = value[len(_OPENAI_PREFIX) :].strip()
        if not model:
            raise UnknownModel("llm_model", value, expected="'openai:<model>' with a model name")
        base_url = env.get(OPENAI_BASE_URL_VARIABLE)
        if not base_url:
            raise MissingSetting(
                f"llm_model {value!r} needs {OPENAI_BASE_URL_VARIABLE} (the OpenAI-compatible server, "
                "e.g. http://127.0.0.1:11434/v1 for Ollama)"
            )
        api_key = env.get(OPENAI_API_KEY_VARIABLE)
        return lambda: _adapter_class("openai_compat", "OpenAICompatible")(base_url=base_url, model=model, api_key=api_key)
    model_id = value[len(_BEDROCK_PREFIX) :].strip() if value.startswith(_BEDROCK_PREFIX) else value
    if not model_id:
        raise UnknownModel("llm_model", value, expected="'bedrock:<model id>' with a model id")

    def bedrock() -> LanguageModel:
        from .bedrock import BedrockLlm

        return BedrockLlm(model_id, client_factory=clients.bedrock_runtime, settings=settings)

    return bedrock


def _text_to_speech(value: str, settings: "Settings", clients: AwsClients) -> Callable[[], TextToSpeech]:
    if value == "local":
        return lambda: _adapter_class("local_tts", "EspeakTts")()
    engine = _TTS_POLLY_ENGINES.get(value)
    if engine is None:
        raise UnknownModel("tts_model", value, expected="'local', 'polly', 'standard', 'neural', 'generative' or 'long-form'")

    def polly() -> TextToSpeech:
        from .polly import PollyTts

        return PollyTts(engine=engine, client_factory=clients.polly, settings=settings)

    return polly


def _adapter_class(module: str, name: str) -> Any:
    """A class from one of our engine modules, imported only now."""
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)
