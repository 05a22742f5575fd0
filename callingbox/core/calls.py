"""Call dispatch and control: overrides, caller id, placeholders, the config snapshot (seeds 000, 002)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from . import templating
from .call_states import CallStatus, EndReason
from .clock import now_s
from .errors import ApiError, Conflict, InvalidRequest, ServiceUnavailable
from .ids import has_prefix, new_id
from .pagination import Page
from .queues import JobQueues
from .scope import Scope
from .store import agents as agent_store
from .store import calls as call_store
from .store import numbers as number_store
from .store.calls import CallFilters, CallRecord
from .urls import check_customer_url
from .validation import parse_params

__all__ = ["create_call", "get_call", "list_calls", "cancel_call", "parse_filters", "hangup_call"]

_TEMPLATED_FIELDS = ("persona", "instructions", "first_message", "voicemail_message")
_STATUSES = {status.value for status in CallStatus}


def _refuse_locked_fields(body: Any) -> None:
    if not isinstance(body, dict):
        return
    from ..types.agent import OVERRIDABLE_CALL_FIELDS, AgentCreateParams

    locked = set(AgentCreateParams.model_fields) - set(OVERRIDABLE_CALL_FIELDS)
    for field in body:
        if field in locked:
            allowed = ", ".join(OVERRIDABLE_CALL_FIELDS)
            raise InvalidRequest(f"{field} is set on the agent and cannot be overridden per call; only {allowed} can",
                                 code="field_not_overridable", param=field)


def _caller_id(scope: Scope, agent: dict[str, Any], requested: Optional[str]) -> str:
    """The E.164 number to call from: ``from_number`` (id or E.164) if attached, else the primary."""
    if requested is None:
        if not agent["primary_number_id"]:
            raise InvalidRequest("the agent has no primary number; attach a number to the agent or pass from_number",
                                 code="no_caller_id", param="from_number")
        return str(number_store.get_number(scope.workspace_id, agent["primary_number_id"]).doc["number"])
    if has_prefix(requested, "pn"):
        number_id: Optional[str] = requested
    else:
        record = number_store.find_number(scope.workspace_id, requested)
        number_id = record.doc["id"] if record else None
    if number_id is None or number_id not in agent["number_ids"]:
        raise InvalidRequest(f"{requested} is not attached to agent {agent['id']}; attach it first or omit from_number",
                             code="from_number_not_attached", param="from_number")
    return str(number_store.get_number(scope.workspace_id, number_id).doc["number"])


def _snapshot(agent: dict[str, Any], instructions: Optional[str], context: Optional[dict[str, Any]]) -> dict[str, Any]:
    """The agent config this call runs with, placeholders filled; later agent edits do not touch it."""
    snapshot = {key: value for key, value in agent.items() if key not in ("object", "archived")}
    snapshot["instructions"] = instructions
    for field in _TEMPLATED_FIELDS:
        try:
            snapshot[field] = templating.render(snapshot.get(field), context)
        except templating.UnknownVariable as missing:
            raise InvalidRequest(f"{field} uses {{{{{missing.name}}}}} but context has no {missing.name!r}",
                                 code="unknown_variable", param="context") from None
    return snapshot


def create_call(scope: Scope, body: Any, *, queues: JobQueues) -> dict[str, Any]:
    """``POST /v1/calls``: store the call (``queued``) with its snapshot, then enqueue the dial job."""
    from ..types.call import CallCreateParams

    _refuse_locked_fields(body)
    params = parse_params(CallCreateParams, body)
    agent = agent_store.get_agent(scope.workspace_id, params.agent_id).doc
    if agent["archived"]:
        raise InvalidRequest(f"agent {agent['id']} is archived and takes no calls", code="agent_archived",
                             param="agent_id")
    if agent["type"] != "outbound":
        raise InvalidRequest("only outbound agents place calls; inbound agents answer their numbers",
                             code="agent_not_outbound", param="agent_id")
    check_customer_url(params.webhook_url, param="webhook_url", allow_insecure=scope.settings.allow_insecure_urls)
    from_number = _caller_id(scope, agent, params.from_number)
    instructions = params.instructions if params.instructions is not None else agent["instructions"]
    snapshot = _snapshot(agent, instructions, params.context)
    now = now_s()
    doc: dict[str, Any] = {
        "id": new_id("call"),
        "object": "call",
        "agent_id": agent["id"],
        "direction": "outbound",
        "from_number": from_number,
        "to_number": params.to,
        "status": CallStatus.QUEUED.value,
        "answered_by": None,
        "end_reason": None,
        "started_at": None,
        "answered_at": None,
        "ended_at": None,
        "duration_seconds": None,
        "billable_seconds": 0,
        "result": None,
        "extraction": None,
        "transcript_url": None,
        "recording_url": None,
        "latency": [],
        "instructions": snapshot["instructions"],
        "webhook_url": params.webhook_url or agent["webhook_url"],
        "metadata": params.metadata,
        "context": params.context,
        "agent_snapshot": snapshot,
        "created": now,
        "updated": now,
    }
    call_store.insert_call(scope.workspace_id, doc)
    try:
        queues.send("dial", {"workspace_id": scope.workspace_id, "call_id": doc["id"]})
    except Exception as error:
        # The call is stored but will never be dialed: close it rather than leave it queued forever.
        call_store.transition_call(scope.workspace_id, doc["id"], CallStatus.FAILED,
                                   end_reason="error:enqueue_failed", ended_at=now_s())
        if isinstance(error, ApiError):
            raise
        raise ServiceUnavailable("the call could not be queued for dialing; retry the request",
                                 code="dial_queue_unavailable") from error
    _emit_queued(scope, doc, queues)
    return doc


def _emit_queued(scope: Scope, doc: dict[str, Any], queues: JobQueues) -> None:
    """``call.queued``, once the call is stored and on its way to the dialer.

    A failure here is logged, not raised: the call exists and will be dialed, and a 5xx would make
    the client retry into a second call. The event is stored first, so in the worst case (the
    webhooks queue unreachable) it stays listed but undelivered until redelivered.
    """
    from .events import emit_call_event

    try:
        emit_call_event(scope.settings, scope.workspace_id, "call.queued", doc, queues=queues)
    except Exception:
        from .observability import get_logger

        get_logger("api").exception("call.queued could not be emitted", extra={"call_id": doc["id"]})


def get_call(scope: Scope, call_id: str) -> CallRecord:
    """``GET /v1/calls/{id}``: the stored record, returned as stored."""
    return call_store.get_call(scope.workspace_id, call_id)


def parse_epoch(raw: Optional[str], param: str) -> Optional[int]:
    """A ``created_after`` / ``created_before`` query value: unix seconds, or None when absent."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{param} must be unix seconds", code="invalid_type", param=param) from None
    if value < 0:
        raise InvalidRequest(f"{param} must be unix seconds", param=param)
    return value


def parse_filters(query: dict[str, str], *, agent_id: Optional[str] = None) -> CallFilters:
    """The call-list filters from a query string, each checked (unknown names are refused by the router)."""
    status = query.get("status")
    if status is not None and status not in _STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(sorted(_STATUSES))}", param="status")
    direction = query.get("direction")
    if direction is not None and direction not in ("inbound", "outbound"):
        raise InvalidRequest("direction must be inbound or outbound", param="direction")
    return CallFilters(
        agent_id=agent_id or query.get("agent_id"),
        direction=direction,
        status=status,
        to_number=query.get("to_number"),
        from_number=query.get("from_number"),
        created_after=parse_epoch(query.get("created_after"), "created_after"),
        created_before=parse_epoch(query.get("created_before"), "created_before"),
    )


def list_calls(scope: Scope, filters: CallFilters, *, limit: int, cursor: Optional[str]) -> Page:
    """``GET /v1/calls`` and ``GET /v1/agents/{id}/calls``."""
    return call_store.query_calls(scope.workspace_id, filters, limit=limit, cursor=cursor)


CarrierSource = Callable[[], Any]


def _hang_up(carrier: Optional[CarrierSource], sid: str, call_id: str) -> None:
    """Ask the carrier to end ``sid``; its refusal is a 503 the client may retry."""
    from .carrier.base import CarrierError

    if carrier is None:
        raise ServiceUnavailable("this deployment has no carrier configured", code="carrier_unavailable")
    try:
        carrier().hang_up(sid)
    except CarrierError as error:
        raise ServiceUnavailable(f"the carrier did not end call {call_id} ({error.message}); retry",
                                 code="carrier_unavailable") from error


def cancel_call(scope: Scope, call_id: str, *, carrier: Optional[CarrierSource] = None) -> dict[str, Any]:
    """``POST /v1/calls/{id}/cancel``: a queued call is never dialed; a ringing one stops ringing.

    Order matters. A queued call that the dialer is placing right now (claimed, no sid yet) is
    marked canceled first, and the dialer hangs up the call it places when it records the sid on a
    canceled call. A call the carrier already has (a sid) is hung up at the carrier first, then
    marked canceled, so a carrier failure leaves the call as it was (503, retry). If the callee
    answers in between, the cancel loses (409) and the hang-up has ended the call anyway: its
    status callback closes it as completed.
    """
    record = call_store.get_call(scope.workspace_id, call_id)
    doc = record.doc
    if record.status == CallStatus.CANCELED.value:
        # Emitting again is a no-op once done, and finishes the job if the first cancel failed midway.
        _emit_canceled(scope, doc)
        return doc
    if record.status not in (CallStatus.QUEUED.value, CallStatus.RINGING.value):
        raise Conflict(f"only a queued or ringing call can be canceled; this one is {record.status}",
                       code="call_not_cancelable", param="call_id", permanent=True)
    sid = doc.get("carrier_sid")
    if sid:
        _hang_up(carrier, sid, call_id)
    outcome = call_store.transition_call(scope.workspace_id, call_id, CallStatus.CANCELED,
                                         end_reason=EndReason.CANCELED.value, ended_at=now_s())
    if outcome.doc["status"] != CallStatus.CANCELED.value:
        raise Conflict(f"the call moved on to {outcome.doc['status']} before it could be canceled",
                       code="call_not_cancelable", param="call_id", permanent=True)
    if not sid and outcome.doc.get("carrier_sid") and carrier is not None:
        # The dialer recorded a sid between our read and our write: that call must not ring on.
        from .carrier.base import CarrierError

        try:
            carrier().hang_up(outcome.doc["carrier_sid"])
        except CarrierError:
            pass  # the dialer hangs up calls it finds canceled, too
    _emit_canceled(scope, outcome.doc)
    return outcome.doc


def _emit_canceled(scope: Scope, doc: dict[str, Any]) -> None:
    """``call.canceled``; a failure is a 503, and the client's retry (the call is canceled by then)
    emits again under the same dedupe key, so the event is neither lost nor doubled."""
    from .events import emit_call_event

    try:
        emit_call_event(scope.settings, scope.workspace_id, "call.canceled", doc)
    except ApiError:
        raise
    except Exception as error:
        raise ServiceUnavailable("the call is canceled but its event could not be recorded; retry the request",
                                 code="event_unavailable") from error


def hangup_call(scope: Scope, call_id: str, *, carrier: Optional[CarrierSource] = None,
                queues: Optional[JobQueues] = None) -> dict[str, Any]:
    """``POST /v1/calls/{id}/hangup``: end a call in progress (``completed``, ``end_reason: api_hangup``).

    The call is marked completed before the carrier is asked, so the gateway's own end write (its
    stream closes when the carrier hangs up) cannot claim the call as ``caller_hangup``; the
    winner of that write queues the post-call work, here this request. Should the carrier fail,
    the gateway still ends the stream on its next heartbeat (the call is no longer live).
    """
    from .carrier.base import CarrierError
    from .telephony import enqueue_post_call

    record = call_store.get_call(scope.workspace_id, call_id)
    if record.status != CallStatus.IN_PROGRESS.value:
        raise Conflict(f"only a call in progress can be hung up; this one is {record.status}",
                       code="call_not_in_progress", param="call_id", permanent=True)
    now = now_s()

    def end(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
        if doc["status"] != CallStatus.IN_PROGRESS.value:
            return None
        answered_at = int(doc.get("answered_at") or now)
        started_at = int(doc.get("started_at") or answered_at)
        doc.update(status=CallStatus.COMPLETED.value, end_reason=EndReason.API_HANGUP.value, ended_at=now,
                   duration_seconds=max(0, now - started_at), billable_seconds=max(0, now - answered_at))
        return doc

    outcome = call_store.update_call(scope.workspace_id, call_id, end)
    if not outcome.changed:
        raise Conflict(f"the call ended ({outcome.doc['status']}) before it could be hung up",
                       code="call_not_in_progress", param="call_id", permanent=True)
    if queues is not None:
        enqueue_post_call(queues, scope.workspace_id, call_id)
    sid = outcome.doc.get("carrier_sid")
    if sid and carrier is not None:
        try:
            carrier().hang_up(sid)
        except CarrierError as error:
            from .observability import get_logger

            get_logger("api").error("carrier hang-up failed; the gateway ends the stream on its next heartbeat",
                                    extra={"call_id": call_id, "error": error.message})
    return outcome.doc
