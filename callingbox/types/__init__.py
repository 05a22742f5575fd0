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
from .event import EVENT_TYPES, DeliveryAttempt, Event, EventData, EventDelivery, EventType
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
    AvailablePhoneNumber,
    NumberCreateParams,
    NumberImport,
    NumberRule,
    NumberUpdateParams,
    PhoneNumber,
    RuleCreateParams,
    RuleUpdateParams,
)
from .shared import DeletedObject, ErrorDetail, ErrorResponse, ListObject
from .webhook_endpoint import (
    WebhookEndpoint,
    WebhookEndpointCreateParams,
    WebhookEndpointUpdateParams,
    WebhookSecret,
)

__all__ = [
    "Agent",
    "AgentCreateParams",
    "AgentType",
    "AgentUpdateParams",
    "AttachNumberParams",
    "AvailablePhoneNumber",
    "Call",
    "CallCreateParams",
    "CallStatus",
    "DeletedObject",
    "DeliveryAttempt",
    "ErrorDetail",
    "ErrorResponse",
    "EVENT_TYPES",
    "Event",
    "EventData",
    "EventDelivery",
    "EventType",
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
    "WebhookEndpoint",
    "WebhookEndpointCreateParams",
    "WebhookEndpointUpdateParams",
    "WebhookSecret",
]
