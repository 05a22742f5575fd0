"""build_engines: model routing from a call's snapshot, lazily imported adapters, clear errors.

The local adapters (``local_stt``, ``local_tts``, ``builtin_dialogue``, ``openai_compat``) are
replaced by small recording doubles in ``sys.modules``, so these tests check routing and
construction arguments whether or not those modules exist yet. The AWS adapters are the real
classes, given client factories that fail if called: building engines must not create a client.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from typing import Any

import pytest

from callingbox.core.settings import Settings
from streaming_fargate.engines.bedrock import BedrockLlm
from streaming_fargate.engines.factory import AwsClients, MissingSetting, UnknownModel, build_engines
from streaming_fargate.engines.polly import PollyTts
from streaming_fargate.engines.transcribe import TranscribeStt

SETTINGS = Settings(region="eu-west-1", default_stt_model="local", default_llm_model="builtin", default_tts_model="local")


class Recorded:
    """A stand-in adapter class that remembers how it was built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


def _double(name: str) -> type:
    return type(name, (Recorded,), {})


@pytest.fixture(autouse=True)
def local_adapters(monkeypatch: pytest.MonkeyPatch) -> dict[str, type]:
    classes = {
        "local_stt": _double("PocketsphinxStt"),
        "local_tts": _double("EspeakTts"),
        "builtin_dialogue": _double("BuiltinDialogue"),
        "openai_compat": _double("OpenAICompatible"),
    }
    for module_name, cls in classes.items():
        module = types.ModuleType(f"streaming_fargate.engines.{module_name}")
        setattr(module, cls.__name__, cls)
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return classes


def _never_called() -> Any:
    raise AssertionError("building engines must not create AWS clients")


NO_CLIENTS = AwsClients(transcribe=_never_called, bedrock_runtime=_never_called, polly=_never_called)


def build(snapshot: dict[str, Any], **kwargs: Any) -> Any:
    kwargs.setdefault("aws_clients", NO_CLIENTS)
    kwargs.setdefault("environ", {})
    return build_engines(snapshot, settings=SETTINGS, **kwargs)


def test_local_models_use_the_local_adapters(local_adapters: dict[str, type]) -> None:
    snapshot = {"stt_model": "local", "llm_model": "builtin", "tts_model": "local", "returns": {"name": {"type": "string"}}}

    engines = build(snapshot)

    assert type(engines.stt) is local_adapters["local_stt"]
    assert type(engines.tts) is local_adapters["local_tts"]
    assert type(engines.llm) is local_adapters["builtin_dialogue"]
    assert engines.llm.args == (snapshot,)  # the builtin dialogue reads the agent's returns


def test_missing_or_null_fields_fall_back_to_the_settings_defaults(local_adapters: dict[str, type]) -> None:
    engines = build_engines(
        {"stt_model": None},
        settings=Settings(default_stt_model="transcribe", default_llm_model="bedrock:amazon.nova-lite-v1:0", default_tts_model="polly"),
        aws_clients=NO_CLIENTS,
    )
    assert isinstance(engines.stt, TranscribeStt)
    assert isinstance(engines.llm, BedrockLlm) and engines.llm.model_id == "amazon.nova-lite-v1:0"
    assert isinstance(engines.tts, PollyTts) and engines.tts.engine == "neural"


@pytest.mark.parametrize("value", ["transcribe", "aws"])
def test_transcribe_stt(value: str) -> None:
    assert isinstance(build({"stt_model": value}).stt, TranscribeStt)


@pytest.mark.parametrize(
    ("value", "model_id"),
    [
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("bedrock:us.anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
    ],
)
def test_other_llm_models_go_to_bedrock(value: str, model_id: str) -> None:
    llm = build({"llm_model": value}).llm
    assert isinstance(llm, BedrockLlm) and llm.model_id == model_id


def test_openai_models_use_the_compatible_server_from_the_environment(local_adapters: dict[str, type]) -> None:
    environ = {"CALLINGBOX_OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "CALLINGBOX_OPENAI_API_KEY": "sk-local"}

    llm = build({"llm_model": "openai:qwen2.5:3b"}, environ=environ).llm

    assert type(llm) is local_adapters["openai_compat"]
    assert llm.kwargs == {"base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5:3b", "api_key": "sk-local"}


def test_openai_without_a_base_url_names_the_variable() -> None:
    with pytest.raises(MissingSetting, match="CALLINGBOX_OPENAI_BASE_URL"):
        build({"llm_model": "openai:llama3"})


@pytest.mark.parametrize(
    ("value", "engine"),
    [("polly", "neural"), ("neural", "neural"), ("standard", "standard"), ("generative", "generative"), ("long-form", "long-form")],
)
def test_polly_tts_engines(value: str, engine: str) -> None:
    tts = build({"tts_model": value}).tts
    assert isinstance(tts, PollyTts) and tts.engine == engine


@pytest.mark.parametrize(
    ("field", "value"),
    [("stt_model", "voxtral-realtime"), ("tts_model", "qwen3-tts"), ("llm_model", "openai:"), ("llm_model", "bedrock:"), ("stt_model", "")],
)
def test_unknown_models_raise_an_error_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(UnknownModel, match=field) as info:
        build({field: value})
    assert info.value.field == field and info.value.value == value


def test_importing_the_factory_and_building_aws_engines_imports_no_sdk_or_local_adapter() -> None:
    # In a fresh interpreter: the factory module is light, and choosing AWS engines pulls in neither
    # an AWS SDK (clients are built on first use) nor any local adapter module.
    code = """
import json, sys
from callingbox.core.settings import Settings
from streaming_fargate.engines.factory import build_engines
snapshot = {"stt_model": "transcribe", "llm_model": "anthropic.claude-3-5-haiku-20241022-v1:0", "tts_model": "neural"}
build_engines(snapshot, settings=Settings())
watched = ["boto3", "botocore", "amazon_transcribe", "awscrt"] + [
    "streaming_fargate.engines." + m for m in ("local_stt", "local_tts", "builtin_dialogue", "openai_compat")]
print(json.dumps(sorted(m for m in watched if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []


def test_every_field_is_checked_before_any_adapter_is_built(local_adapters: dict[str, type], monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    monkeypatch.setattr(local_adapters["local_stt"], "__init__", lambda self: built.append("stt"))

    with pytest.raises(UnknownModel, match="tts_model"):
        build({"stt_model": "local", "llm_model": "builtin", "tts_model": "espeak"})
    assert built == []
