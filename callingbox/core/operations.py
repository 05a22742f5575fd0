"""Every public HTTP operation, declared once: the API registers its routes from this table and the
OpenAPI document is generated from it, so the two cannot drift apart.

Models are named, not imported: the API serves stored JSON and never needs the response models,
so only the OpenAPI generator resolves the names (in :mod:`callingbox.types`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


__all__ = ["Operation", "QueryParam", "OPERATIONS", "operation", "LIST_PARAMS", "CALL_FILTERS"]


@dataclass(frozen=True)
class QueryParam:
    """A query-string parameter."""

    name: str
    type: str = "string"
    description: str = ""
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One method on one path."""

    id: str
    method: str
    path: str
    summary: str
    response: Optional[str] = None
    list_of: Optional[str] = None
    body: Optional[str] = None
    query: tuple[QueryParam, ...] = ()
    tag: str = ""
    authenticated: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


LIST_PARAMS = (
    QueryParam("limit", "integer", "1 to 100, default 20"),
    QueryParam("cursor", "string", "next_cursor of the previous page"),
)
# The event types, spelled here as in callingbox.core.events (a unit test keeps them equal); not
# imported, so that reading the route table loads nothing else.
EVENT_TYPES = ("call.queued", "call.ringing", "call.answered", "call.completed", "call.no_answer", "call.busy",
               "call.failed", "call.canceled", "call.extraction_failed")
CALL_FILTERS = (
    QueryParam("status", enum=("queued", "ringing", "in_progress", "completed", "no_answer", "busy", "failed",
                               "canceled")),
    QueryParam("direction", enum=("inbound", "outbound")),
    QueryParam("to_number", description="E.164"),
    QueryParam("from_number", description="E.164"),
    QueryParam("created_after", "integer", "unix seconds, inclusive"),
    QueryParam("created_before", "integer", "unix seconds, inclusive"),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("agents.create", "POST", "/v1/agents", "Create an agent", "Agent", body="AgentCreateParams", tag="agents"),
    Operation("agents.list", "GET", "/v1/agents", "List agents", list_of="Agent", tag="agents",
              query=(QueryParam("type", enum=("inbound", "outbound")), QueryParam("archived", "boolean"),
                     *LIST_PARAMS)),
    Operation("agents.retrieve", "GET", "/v1/agents/{agent_id}", "Retrieve an agent", "Agent", tag="agents"),
    Operation("agents.update", "PATCH", "/v1/agents/{agent_id}", "Update an agent (applies to the next call)",
              "Agent", body="AgentUpdateParams", tag="agents"),
    Operation("agents.archive", "POST", "/v1/agents/{agent_id}/archive", "Archive an agent", "Agent", tag="agents"),
    Operation("agents.attach_number", "POST", "/v1/agents/{agent_id}/numbers", "Attach a number to an agent",
              "Agent", body="AttachNumberParams", tag="agents"),
    Operation("agents.detach_number", "DELETE", "/v1/agents/{agent_id}/numbers/{number_id}",
              "Detach a number from an agent", "Agent", tag="agents"),
    Operation("agents.set_primary_number", "POST", "/v1/agents/{agent_id}/primary_number",
              "Set an agent's primary number", "Agent", body="SetPrimaryNumberParams", tag="agents"),
    Operation("agents.list_calls", "GET", "/v1/agents/{agent_id}/calls", "List an agent's calls", list_of="Call",
              query=(*CALL_FILTERS, *LIST_PARAMS), tag="agents"),
    Operation("numbers.list", "GET", "/v1/numbers", "List phone numbers", list_of="PhoneNumber", query=LIST_PARAMS,
              tag="numbers"),
    Operation("numbers.available", "GET", "/v1/numbers/available", "Search the carrier for numbers to buy",
              list_of="AvailablePhoneNumber", tag="numbers",
              query=(QueryParam("country", description="ISO 3166 alpha-2, default US"),
                     QueryParam("area_code", description="three digits (US and Canada)"),
                     QueryParam("limit", "integer", "1 to 100, default 20"))),
    Operation("numbers.create", "POST", "/v1/numbers", "Buy or import a phone number", "PhoneNumber",
              body="NumberCreateParams", tag="numbers"),
    Operation("numbers.retrieve", "GET", "/v1/numbers/{number_id}", "Retrieve a phone number", "PhoneNumber",
              tag="numbers"),
    Operation("numbers.update", "PATCH", "/v1/numbers/{number_id}", "Update a phone number's routing", "PhoneNumber",
              body="NumberUpdateParams", tag="numbers"),
    Operation("numbers.release", "DELETE", "/v1/numbers/{number_id}",
              "Release a phone number (refused while attached to an agent)", "PhoneNumber", tag="numbers"),
    Operation("rules.list", "GET", "/v1/numbers/{number_id}/rules", "List a number's filter rules",
              list_of="NumberRule", query=(QueryParam("status", enum=("active", "paused", "deleted")), *LIST_PARAMS),
              tag="numbers"),
    Operation("rules.create", "POST", "/v1/numbers/{number_id}/rules", "Create a filter rule", "NumberRule",
              body="RuleCreateParams", tag="numbers"),
    Operation("rules.update", "PATCH", "/v1/numbers/{number_id}/rules/{rule_id}", "Update a filter rule",
              "NumberRule", body="RuleUpdateParams", tag="numbers"),
    Operation("rules.delete", "DELETE", "/v1/numbers/{number_id}/rules/{rule_id}", "Delete a filter rule",
              "NumberRule", tag="numbers"),
    Operation("calls.create", "POST", "/v1/calls", "Dispatch an outbound call", "Call", body="CallCreateParams",
              tag="calls"),
    Operation("calls.list", "GET", "/v1/calls", "List calls", list_of="Call",
              query=(QueryParam("agent_id"), *CALL_FILTERS, *LIST_PARAMS), tag="calls"),
    Operation("calls.retrieve", "GET", "/v1/calls/{call_id}", "Retrieve a call", "Call", tag="calls"),
    Operation("calls.cancel", "POST", "/v1/calls/{call_id}/cancel", "Cancel a queued or ringing call", "Call",
              tag="calls"),
    Operation("calls.hangup", "POST", "/v1/calls/{call_id}/hangup", "Hang up a call in progress", "Call",
              tag="calls"),
    Operation("calls.transcript", "GET", "/v1/calls/{call_id}/transcript", "A call's transcript",
              list_of="TranscriptSegment", tag="calls"),
    Operation("webhook_endpoints.create", "POST", "/v1/webhook_endpoints",
              "Create a webhook endpoint (the response is the only one showing its secret)", "WebhookEndpoint",
              body="WebhookEndpointCreateParams", tag="webhooks"),
    Operation("webhook_endpoints.list", "GET", "/v1/webhook_endpoints", "List webhook endpoints",
              list_of="WebhookEndpoint", query=LIST_PARAMS, tag="webhooks"),
    Operation("webhook_endpoints.retrieve", "GET", "/v1/webhook_endpoints/{webhook_endpoint_id}",
              "Retrieve a webhook endpoint", "WebhookEndpoint", tag="webhooks"),
    Operation("webhook_endpoints.update", "PATCH", "/v1/webhook_endpoints/{webhook_endpoint_id}",
              "Update a webhook endpoint; rotate_secret issues a new secret (the old one signs for 24 h more)",
              "WebhookEndpoint", body="WebhookEndpointUpdateParams", tag="webhooks"),
    Operation("webhook_endpoints.delete", "DELETE", "/v1/webhook_endpoints/{webhook_endpoint_id}",
              "Delete a webhook endpoint", "DeletedObject", tag="webhooks"),
    Operation("webhook_secret.retrieve", "GET", "/v1/webhook_secret",
              "The secret signing deliveries to agents' and calls' webhook_url", "WebhookSecret", tag="webhooks"),
    Operation("webhook_secret.rotate", "POST", "/v1/webhook_secret/rotate",
              "Rotate the webhook_url signing secret (the old one signs for 24 h more)", "WebhookSecret",
              tag="webhooks"),
    Operation("events.list", "GET", "/v1/events", "List events", list_of="Event",
              query=(QueryParam("type", enum=EVENT_TYPES), *LIST_PARAMS), tag="events"),
    Operation("events.retrieve", "GET", "/v1/events/{event_id}",
              "Retrieve an event with its deliveries and every attempt", "Event", tag="events"),
    Operation("events.redeliver", "POST", "/v1/events/{event_id}/redeliver",
              "Deliver an event again to each of its destinations", "Event", tag="events"),
    Operation("calls.extract", "POST", "/v1/calls/{call_id}/extract",
              "Re-run the extraction of a completed call's result (the previous one moves to result_history)",
              "Call", tag="calls"),
    Operation("transcripts.search", "GET", "/v1/transcripts/search",
              "Find calls whose transcript contains every word of q, newest first",
              list_of="TranscriptSearchResult", tag="transcripts",
              query=(QueryParam("q", description="1 to 10 words; every one must occur (exact words, any order)"),
                     QueryParam("number_id", description="the number the call used"),
                     QueryParam("agent_id"),
                     QueryParam("created_after", "integer", "unix seconds, inclusive"),
                     QueryParam("created_before", "integer", "unix seconds, inclusive"),
                     *LIST_PARAMS)),
    Operation("openapi", "GET", "/v1/openapi.json", "This OpenAPI document", tag="meta", authenticated=False),
)

_BY_ID = {op.id: op for op in OPERATIONS}


def operation(operation_id: str) -> Operation:
    """The operation declared under ``operation_id``."""
    return _BY_ID[operation_id]
