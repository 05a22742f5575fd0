"""The Bedrock adapter: ``converse`` with one tool whose input schema is the result, forced.

Request (the parts that matter)::

    toolConfig = {"tools": [{"toolSpec": {"name": "record_call_result",
                                          "inputSchema": {"json": <tool_input_schema(returns)>}}}],
                  "toolChoice": {"tool": {"name": "record_call_result"}}}

Response: ``output.message.content`` holds a ``{"toolUse": {"toolUseId", "name", "input"}}`` block
whose ``input`` is ``{"result": {...}, "evidence": {...}}`` (see :mod:`.prompt`).

Errors: throttling, timeouts, 5xx and connection failures are :class:`ExtractorUnavailable` (the job
is retried); validation errors, access denied or an unknown model are :class:`ExtractorError`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from .base import CallFacts, Extractor, RawExtraction, Segment
from .exceptions import ExtractorError, ExtractorOutputError, ExtractorUnavailable
from .prompt import SYSTEM_PROMPT, TOOL_DESCRIPTION, TOOL_NAME, read_tool_input, tool_input_schema, user_prompt

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.settings import Settings

__all__ = ["BedrockExtractor", "converse_request", "bedrock_client_factory"]

MAX_TOKENS = 4_096  # room for a large result plus its quotes
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # a long transcript on a large model takes a while; the Lambda timeout is 5 min
MAX_ATTEMPTS = 3  # botocore's own retries (standard mode) before the error reaches us
# Bedrock error codes that mean "not now" rather than "never".
_TRANSIENT = frozenset({
    "ThrottlingException", "ServiceUnavailableException", "InternalServerException", "ModelNotReadyException",
    "ModelTimeoutException", "ServiceQuotaExceededException", "TooManyRequestsException",
})


def bedrock_client_factory(settings: "Settings") -> Callable[[], Any]:
    """A factory of ``bedrock-runtime`` clients in ``settings.region`` (never the local emulation's
    endpoint: moto has no Bedrock)."""

    def build() -> Any:
        from botocore.config import Config

        from ..aws_clients import create_client

        config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"})
        return create_client("bedrock-runtime", region_name=settings.region, config=config)

    return build


def converse_request(model_id: str, schema: dict[str, Any], transcript: list[Segment], *, facts: CallFacts,
                     feedback: Optional[str]) -> dict[str, Any]:
    """The keyword arguments of ``client.converse`` for one extraction attempt."""
    return {
        "modelId": model_id,
        "system": [{"text": SYSTEM_PROMPT}],
        "messages": [{"role": "user", "content": [
            {"text": user_prompt(schema, transcript, facts=facts, feedback=feedback)}]}],
        "inferenceConfig": {"maxTokens": MAX_TOKENS, "temperature": 0.0},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                                    "inputSchema": {"json": tool_input_schema(schema)}}}],
            "toolChoice": {"tool": {"name": TOOL_NAME}},
        },
    }


class BedrockExtractor(Extractor):
    """Extraction with a Bedrock model (``model_id``, e.g. ``anthropic.claude-3-5-haiku-20241022-v1:0``).

    ``client_factory`` builds the ``bedrock-runtime`` client once, on first use (tests pass a
    stubbed real client); without it, :func:`bedrock_client_factory` of ``settings`` is used.
    """

    def __init__(self, model_id: str, *, client_factory: Optional[Callable[[], Any]] = None,
                 settings: Optional["Settings"] = None) -> None:
        if client_factory is None:
            if settings is None:
                raise ValueError("pass client_factory or settings")
            client_factory = bedrock_client_factory(settings)
        self.model = model_id
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    def _bedrock(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def extract(self, schema: dict[str, Any], transcript: list[Segment], *, feedback: Optional[str] = None,
                facts: Optional[CallFacts] = None) -> RawExtraction:
        """One ``converse`` call; the forced tool's input is the answer (see :class:`Extractor`)."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        request = converse_request(self.model, schema, transcript, facts=facts or CallFacts(), feedback=feedback)
        try:
            response = self._bedrock().converse(**request)
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code", "Unknown"), details.get("Message", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in _TRANSIENT or status >= 500:
                raise ExtractorUnavailable(f"Bedrock is unavailable ({code}): {message}") from error
            raise ExtractorError(f"Bedrock refused the request ({code}): {message}") from error
        except NoCredentialsError as error:
            raise ExtractorError(f"no AWS credentials for Bedrock: {error}") from error
        except BotoCoreError as error:  # connection refused, timeouts
            raise ExtractorUnavailable(f"Bedrock could not be reached: {error}") from error
        content = response.get("output", {}).get("message", {}).get("content", [])
        for block in content:
            tool_use = block.get("toolUse") if isinstance(block, dict) else None
            if tool_use and tool_use.get("name") == TOOL_NAME:
                return read_tool_input(tool_use.get("input"))
        raise ExtractorOutputError(f"the model did not call {TOOL_NAME} (stopReason {response.get('stopReason')!r})")
