"""The public JSON shapes: one set of pydantic models for the API, the SDK and the OpenAPI document."""

from .agent import (
    Agent,
    AgentCreateParams,
    AgentType,
    AgentUpdateParams,
    AttachNumberParams,
    SetPrimaryNumberParams,
    Tool,
)
from .call import (
    Call,
    CallCreateParams,
    CallStatus,
    Extraction,
    ResultHistoryEntry,
    TranscriptSearchResult,
    TranscriptSegment,
    TurnLatency,
)
from .phone_number import (
    NumberCreateParams,
    NumberImport,
    NumberRule,
    NumberUpdateParams,
    PhoneNumber,
    RuleCreateParams,
    RuleUpdateParams,
)
from .shared import DeletedObject, ErrorDetail, ErrorResponse, ListObject

__all__ = [
    "Agent",
    "AgentCreateParams",
    "AgentType",
    "AgentUpdateParams",
    "AttachNumberParams",
    "Call",
    "CallCreateParams",
    "CallStatus",
    "DeletedObject",
    "ErrorDetail",
    "ErrorResponse",
    "Extraction",
    "ListObject",
    "NumberCreateParams",
    "NumberImport",
    "NumberRule",
    "NumberUpdateParams",
    "PhoneNumber",
    "ResultHistoryEntry",
    "RuleCreateParams",
    "RuleUpdateParams",
    "SetPrimaryNumberParams",
    "Tool",
    "TranscriptSearchResult",
    "TranscriptSegment",
    "TurnLatency",
]
