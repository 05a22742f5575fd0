"""Picks the extractor for a call from its ``llm_model``, the way the voice gateway picks its model.

=============================  ==============================================================
``agent_snapshot.llm_model``   extractor
=============================  ==============================================================
``builtin``                    :class:`~.builtin.BuiltinExtractor`
``openai:<model>``             :class:`~.openai_compat.OpenAICompatibleExtractor` on
                               ``CALLINGBOX_OPENAI_BASE_URL`` (key: ``CALLINGBOX_OPENAI_API_KEY``)
``bedrock:<model id>`` | other :class:`~.bedrock.BedrockExtractor` with that model id
=============================  ==============================================================

A missing ``llm_model`` falls back to ``settings.default_llm_model``. The variables and prefixes are
the gateway's (``streaming_fargate/engines/factory.py``), so a call is extracted by the model it
talked with. Adapters are imported only when chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ..settings import Settings
from .base import Extractor
from .exceptions import ExtractorError

__all__ = ["ExtractorFactory", "model_of", "OPENAI_BASE_URL_VARIABLE", "OPENAI_API_KEY_VARIABLE"]

OPENAI_BASE_URL_VARIABLE = "CALLINGBOX_OPENAI_BASE_URL"
OPENAI_API_KEY_VARIABLE = "CALLINGBOX_OPENAI_API_KEY"
_OPENAI_PREFIX = "openai:"
_BEDROCK_PREFIX = "bedrock:"


def model_of(call_doc: Mapping[str, Any], settings: Settings) -> str:
    """The ``llm_model`` the call ran with (its snapshot's, else the deployment default)."""
    snapshot = call_doc.get("agent_snapshot") or {}
    value = snapshot.get("llm_model")
    if not isinstance(value, str) or not value.strip():
        value = settings.default_llm_model
    return str(value).strip()


@dataclass
class ExtractorFactory:
    """Builds (and keeps, per model) the extractor for a model name.

    ``bedrock_client`` and ``http_client`` replace the Bedrock client factory and the httpx client
    (tests); ``environ`` is where the OpenAI-compatible variables are read (default ``os.environ``,
    read when an extractor is built, never at import).
    """

    settings: Settings
    environ: Optional[Mapping[str, str]] = None
    bedrock_client: Optional[Callable[[], Any]] = None
    http_client: Any = None

    def __post_init__(self) -> None:
        self._built: dict[str, Extractor] = {}

    def __call__(self, model: str) -> Extractor:
        """The extractor for ``model``.

        Raises:
            ExtractorError: the name routes nowhere, or ``openai:`` without its base URL variable.
        """
        if model not in self._built:
            self._built[model] = self._build(model)
        return self._built[model]

    def _build(self, model: str) -> Extractor:
        if model == "builtin":
            from .builtin import BuiltinExtractor

            return BuiltinExtractor()
        if model.startswith(_OPENAI_PREFIX):
            name = model[len(_OPENAI_PREFIX):].strip()
            env = os.environ if self.environ is None else self.environ
            base_url = env.get(OPENAI_BASE_URL_VARIABLE)
            if not name:
                raise ExtractorError(f"llm_model {model!r} names no model: use 'openai:<model>'")
            if not base_url:
                raise ExtractorError(f"llm_model {model!r} needs {OPENAI_BASE_URL_VARIABLE} (the OpenAI-compatible "
                                     "server, e.g. http://127.0.0.1:11434/v1 for Ollama)")
            from .openai_compat import OpenAICompatibleExtractor

            return OpenAICompatibleExtractor(base_url=base_url, model=name, api_key=env.get(OPENAI_API_KEY_VARIABLE),
                                             http_client=self.http_client)
        model_id = model[len(_BEDROCK_PREFIX):].strip() if model.startswith(_BEDROCK_PREFIX) else model
        if not model_id:
            raise ExtractorError(f"llm_model {model!r} names no model: use 'bedrock:<model id>'")
        from .bedrock import BedrockExtractor

        return BedrockExtractor(model_id, client_factory=self.bedrock_client, settings=self.settings)
