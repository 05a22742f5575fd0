"""The agent: the reusable unit of call behaviour (seeds 000, 001, 003)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ._base import RequestModel, ResponseModel
from .shared import Metadata, ResourceId

__all__ = [
    "Agent",
    "AgentType",
    "AgentCreateParams",
    "AgentUpdateParams",
    "AttachNumberParams",
    "SetPrimaryNumberParams",
    "Tool",
    "VoicemailAction",
    "DEFAULT_PERSONA",
    "OVERRIDABLE_CALL_FIELDS",
]

AgentType = Literal["inbound", "outbound"]
VoicemailAction = Literal["hangup", "leave_message"]

DEFAULT_PERSONA = (
    "You are a friendly, professional phone agent. Speak naturally and briefly, one or two "
    "sentences at a time, and let the other person finish. Be honest that you are an AI "
    "assistant if asked. Never invent facts, prices or commitments you were not given, never "
    "ask for passwords or full card numbers, and end the call politely once the task is done."
)

# Fields a single outbound call may override; everything else is locked to the agent.
OVERRIDABLE_CALL_FIELDS = ("instructions", "from_number", "context", "webhook_url", "metadata")

_TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"
_LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_NAME_MAX = 200
_PROMPT_MAX = 20_000


class Tool(ResponseModel):
    """An in-call tool the model may invoke; its arguments follow ``parameters`` (JSON Schema)."""

    name: str = Field(pattern=_TOOL_NAME)
    description: str = Field(default="", max_length=2_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolParam(RequestModel):
    """A tool as sent in a create/update body (unknown keys rejected)."""

    name: str = Field(pattern=_TOOL_NAME)
    description: str = Field(default="", max_length=2_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Agent(ResponseModel):
    """An agent as the API returns it."""

    id: str
    object: Literal["agent"] = "agent"
    name: str
    type: AgentType
    persona: str
    instructions: Optional[str] = None
    first_message: Optional[str] = None
    voice: Optional[str] = None
    language: str = "en-US"
    returns: Optional[dict[str, Any]] = None
    tools: list[Tool] = Field(default_factory=list)
    tool_url: Optional[str] = None
    webhook_url: Optional[str] = None
    voicemail_action: VoicemailAction = "hangup"
    voicemail_message: Optional[str] = None
    number_ids: list[str] = Field(default_factory=list)
    primary_number_id: Optional[str] = None
    llm_model: Optional[str] = None
    stt_model: Optional[str] = None
    tts_model: Optional[str] = None
    interruption_threshold: float = 0.5
    context_window: int = 10
    max_duration_seconds: int = 1800
    record: bool = True
    metadata: dict[str, str] = Field(default_factory=dict)
    archived: bool = False
    created: int
    updated: int


class _AgentFields(RequestModel):
    """Every field a client may set on an agent (``type`` aside)."""

    name: str = Field(min_length=1, max_length=_NAME_MAX)
    persona: Optional[str] = Field(default=None, max_length=_PROMPT_MAX)
    instructions: Optional[str] = Field(default=None, max_length=_PROMPT_MAX)
    first_message: Optional[str] = Field(default=None, max_length=2_000)
    voice: Optional[str] = Field(default=None, min_length=1, max_length=100)
    language: str = Field(default="en-US", pattern=_LANGUAGE)
    returns: Optional[dict[str, Any]] = None
    tools: list[ToolParam] = Field(default_factory=list, max_length=32)
    tool_url: Optional[str] = Field(default=None, max_length=2_048)
    webhook_url: Optional[str] = Field(default=None, max_length=2_048)
    voicemail_action: VoicemailAction = "hangup"
    voicemail_message: Optional[str] = Field(default=None, max_length=2_000)
    number_ids: list[ResourceId] = Field(default_factory=list, max_length=50)
    primary_number_id: Optional[ResourceId] = None
    llm_model: Optional[str] = Field(default=None, min_length=1, max_length=200)
    stt_model: Optional[str] = Field(default=None, min_length=1, max_length=200)
    tts_model: Optional[str] = Field(default=None, min_length=1, max_length=200)
    interruption_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    context_window: int = Field(default=10, ge=1, le=200)
    max_duration_seconds: int = Field(default=1800, ge=10, le=4 * 3600)
    record: bool = True
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> "_AgentFields":
        if self.tools and not self.tool_url:
            raise _field_error("tool_url", "tool_url is required when tools are set")
        names = [tool.name for tool in self.tools]
        if len(names) != len(set(names)):
            raise _field_error("tools", "tool names must be unique")
        if len(self.number_ids) != len(set(self.number_ids)):
            raise _field_error("number_ids", "number_ids must not repeat a number")
        if self.primary_number_id is not None and self.primary_number_id not in self.number_ids:
            raise _field_error("primary_number_id", "primary_number_id must be one of number_ids")
        return self


class AgentCreateParams(_AgentFields):
    """Body of ``POST /v1/agents``."""

    type: AgentType


class AgentUpdateParams(RequestModel):
    """Body of ``PATCH /v1/agents/{id}``: any create field but ``type``; absent fields stay as they are.

    The server merges the sent fields onto the stored agent and validates the result as a whole,
    so cross-field rules (``tool_url`` with ``tools``) hold after every edit.
    """

    name: Optional[str] = None
    persona: Optional[str] = None
    instructions: Optional[str] = None
    first_message: Optional[str] = None
    voice: Optional[str] = None
    language: Optional[str] = None
    returns: Optional[dict[str, Any]] = None
    tools: Optional[list[ToolParam]] = None
    tool_url: Optional[str] = None
    webhook_url: Optional[str] = None
    voicemail_action: Optional[VoicemailAction] = None
    voicemail_message: Optional[str] = None
    number_ids: Optional[list[str]] = None
    primary_number_id: Optional[str] = None
    llm_model: Optional[str] = None
    stt_model: Optional[str] = None
    tts_model: Optional[str] = None
    interruption_threshold: Optional[float] = None
    context_window: Optional[int] = None
    max_duration_seconds: Optional[int] = None
    record: Optional[bool] = None
    metadata: Optional[dict[str, str]] = None


class AttachNumberParams(RequestModel):
    """Body of ``POST /v1/agents/{id}/numbers``."""

    number_id: ResourceId
    set_as_primary: bool = False


class SetPrimaryNumberParams(RequestModel):
    """Body of ``POST /v1/agents/{id}/primary_number``; the number must already be attached."""

    number_id: ResourceId


def _field_error(param: str, message: str) -> PydanticCustomError:
    # The error context carries the field at fault, so the API can name it in ``param``.
    return PydanticCustomError("field_rule", message, {"param": param})
