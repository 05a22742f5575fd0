"""What the carrier's webhooks mean for our calls: status callbacks, answering-machine detection,
inbound calls, and what runs after the media stream (a transfer or a hang-up).

Functions over the store; the HTTP side (signature check, form parsing, TwiML response) is
``functions/chalicelib/twilio_webhooks.py``. Every call update goes through the conditional writes
of :mod:`callingbox.core.store.calls`, so duplicated and out-of-order callbacks change nothing
twice and never move a call backwards.

Status callbacks (Twilio's ``CallStatus``) map onto the state machine::

    queued, initiated   nothing, not even a read: the dialer records the sid, and every later
                        callback notes it (and the dial as done) if the dialer could not
    ringing             ringing
    in-progress         in_progress, answered_at
    completed           answered: completed (end_reason caller_hangup unless one is set),
                                  billable_seconds = ended_at - answered_at
                                  a machine answered (AMD): no_answer, end_reason voicemail
                        never answered: no_answer (end_reason no_answer)
    no-answer           no_answer      busy      busy
    failed              failed (error:carrier)   canceled  canceled

Post-call work. Whoever wins the move to ``completed`` (a status callback here, the voice
gateway, or the hang-up API) puts the extraction job on the queue, :data:`EXTRACTION_DELAY_S`
late so the gateway's last transcript writes land first. Only the winning write enqueues, so a
call is extracted once; a voicemail (no_answer) is never extracted.

Voicemail with ``leave_message``: the call moves to ``no_answer`` / ``machine`` / ``voicemail``
*before* the carrier is redirected to a second stream (``mode=voicemail``), so that the first
stream's end cannot be taken for a completed conversation. The gateway then speaks the message on
a call that is already ended in our records, and may note ``voicemail.left = true``.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Protocol
from urllib.parse import urlsplit

from . import templating
from .call_states import CallStatus, EndReason, can_transition, is_terminal
from .carrier.base import Carrier, CarrierError
from .clock import now_s
from .errors import ApiError, NotFound
from .ids import new_id
from .observability import get_logger
from .routing import InboundAction, InboundDecision, resolve_webhook_reply, route_inbound
from .settings import Settings
from .signing_keys import stream_token_key
from .store import calls as call_store
from .stream_tokens import sign_stream_token
from .telephony_urls import (
    call_hook_path,
    connect_stream_twiml,
    dial_twiml,
    hangup_twiml,
    public_url,
    reject_twiml,
)
from .urls import check_customer_url, is_public_address

__all__ = [
    "EXTRACTION_DELAY_S",
    "INCOMING_WEBHOOK_TIMEOUT_S",
    "JobSender",
    "InboundAnswer",
    "apply_status",
    "apply_number_status",
    "apply_amd",
    "after_stream",
    "record_transfer_outcome",
    "answer_inbound",
    "ask_incoming_webhook",
    "enqueue_post_call",
    "stream_twiml",
]

# The extraction job waits this long so the gateway's last transcript writes land first.
EXTRACTION_DELAY_S = 5
# How long the customer's incoming-call webhook has to answer; the carrier keeps the caller
# ringing meanwhile, so it must stay short (the fallback applies after it).
INCOMING_WEBHOOK_TIMEOUT_S = 3.0
# AMD results after which a message can be left (the greeting ended: beep, silence, or other).
_MESSAGE_END = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})
_KNOWN_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer",
                             "failed", "canceled"})
_TERMINAL_STATUS = {
    "busy": (CallStatus.BUSY, EndReason.BUSY.value),
    "no-answer": (CallStatus.NO_ANSWER, EndReason.NO_ANSWER.value),
    "failed": (CallStatus.FAILED, "error:carrier"),
    "canceled": (CallStatus.CANCELED, EndReason.CANCELED.value),
}


class JobSender(Protocol):
    """What enqueues jobs (:class:`callingbox.core.queues.JobQueues`)."""

    def send(self, queue: str, body: Mapping[str, Any], *, delay_seconds: int = 0) -> str:
        """Enqueue ``body`` on ``queue``."""


def _log() -> Any:
    return get_logger("telephony")


def enqueue_post_call(queues: JobSender, workspace_id: str, call_id: str) -> None:
    """Queue the post-call (extraction) job of a call this process just moved to ``completed``.

    A failure is logged, not raised: the status write has happened and cannot be repeated by a retry.
    """
    try:
        queues.send("extraction", {"workspace_id": workspace_id, "call_id": call_id},
                    delay_seconds=EXTRACTION_DELAY_S)
    except Exception as error:  # noqa: BLE001 - logged with the call id; the call itself is finished
        _log().error("extraction job not queued", extra={"call_id": call_id, "error": repr(error)})


def _int(value: Optional[str]) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


# -- status callbacks --------------------------------------------------------------------------


def _terminal_fields(doc: dict[str, Any], carrier_status: str, duration: int, now: int) -> dict[str, Any]:
    """The target status and fields of a final status callback (see the module docstring)."""
    fields: dict[str, Any] = {"ended_at": now}
    if carrier_status in _TERMINAL_STATUS:
        target, reason = _TERMINAL_STATUS[carrier_status]
        fields.update(status=target.value, end_reason=doc.get("end_reason") or reason, billable_seconds=0,
                      duration_seconds=duration)
        return fields
    answered = doc["status"] == CallStatus.IN_PROGRESS.value or doc.get("answered_at") is not None or duration > 0
    if not answered:
        fields.update(status=CallStatus.NO_ANSWER.value, end_reason=EndReason.NO_ANSWER.value, billable_seconds=0,
                      duration_seconds=duration)
    elif doc.get("answered_by") == "machine":
        fields.update(status=CallStatus.NO_ANSWER.value, end_reason=EndReason.VOICEMAIL.value, billable_seconds=0,
                      duration_seconds=duration)
    else:
        answered_at = doc.get("answered_at") or now - duration
        # The gateway notes why it closed the stream (agent_hangup, silence, error:…) before the
        # carrier's final callback; without a note the caller hung up.
        reason = doc.get("end_reason") or doc.get("ending_reason") or EndReason.CALLER_HANGUP.value
        failed = reason.startswith("error:")
        billable = max(0, now - int(answered_at))
        total = duration or max(0, now - int(doc.get("started_at") or answered_at))
        # The carrier counts whole seconds on its clock, billable_seconds comes from ours: they can
        # disagree by a second, and a call never lasts less than its answered part.
        fields.update(status=(CallStatus.FAILED if failed else CallStatus.COMPLETED).value,
                      end_reason=reason, answered_at=answered_at, billable_seconds=billable,
                      duration_seconds=max(total, billable))
    return fields


def _answered_late(doc: dict[str, Any], answered_at: int) -> Optional[dict[str, Any]]:
    if doc["status"] not in (CallStatus.QUEUED.value, CallStatus.RINGING.value):
        return None
    doc.update(status=CallStatus.IN_PROGRESS.value, answered_at=doc.get("answered_at") or answered_at)
    if doc.get("started_at") is None:
        doc["started_at"] = answered_at
    return doc


def apply_status(workspace_id: str, call_id: str, params: Mapping[str, str], *, queues: JobSender,
                 now: Optional[int] = None) -> Optional[call_store.Transition]:
    """Apply one status callback to the call; returns the write (``changed`` False for no-ops), or None.

    Unknown calls and unknown statuses are ignored (logged): the carrier must not retry them.
    """
    carrier_status = params.get("CallStatus", "")
    sid = params.get("CallSid") or None
    at = now_s() if now is None else now
    duration = _int(params.get("CallDuration"))

    moved: list[bool] = [False]  # whether the write that landed changed the status

    def change(doc: dict[str, Any]) -> Optional[dict[str, Any]]:
        moved[0] = False
        if carrier_status == "ringing":
            target = {"status": CallStatus.RINGING.value}
        elif carrier_status == "in-progress":
            target = {"status": CallStatus.IN_PROGRESS.value, "answered_at": doc.get("answered_at") or at}
        elif carrier_status == "completed" or carrier_status in _TERMINAL_STATUS:
            target = _terminal_fields(doc, carrier_status, duration, at)
        else:
            return None
        moves = target["status"] != doc["status"] and can_transition(doc["status"], target["status"])
        needs_sid = sid is not None and not doc.get("carrier_sid")
        if not moves and not needs_sid:
            return None
        if needs_sid:
            doc["carrier_sid"] = sid
            dial = doc.get("dial") or {}
            if dial.get("state") == "dialing":
                # The carrier has the call: the dialer's own sid write then finds nothing to do.
                doc["dial"] = {**dial, "state": "dialed", "dialed_at": at}
        if moves:
            doc.update(target)
            if doc.get("started_at") is None:
                doc["started_at"] = at
            moved[0] = True
        return doc

    if carrier_status in ("queued", "initiated"):
        return None
    try:
        if carrier_status not in _KNOWN_STATUSES:
            _log().warning("unknown carrier call status", extra={"call_id": call_id, "status": carrier_status})
            return None
        if carrier_status == "completed" and duration > 0:
            # Answered, though its in-progress callback has not arrived (reordered or lost): the
            # state machine passes through in_progress, answered ``duration`` seconds ago.
            call_store.update_call(workspace_id, call_id, lambda doc: _answered_late(doc, at - duration))
        outcome = call_store.update_call(workspace_id, call_id, change)
    except NotFound:
        _log().warning("status callback for an unknown call", extra={"call_id": call_id, "status": carrier_status})
        return None
    if outcome.changed and moved[0] and outcome.doc["status"] == CallStatus.COMPLETED.value:
        enqueue_post_call(queues, workspace_id, call_id)
    return outcome


def apply_number_status(params: Mapping[str, str], *, queues: JobSender) -> Optional[call_store.Transition]:
    """A number-level status callback (inbound calls): find the call by its sid, then :func:`apply_status`."""
    from .store.call_sids import find_sid

    sid = params.get("CallSid") or ""
    ref = find_sid(sid) if sid else None
    if ref is None:
        _log().info("number status callback for a call we did not answer", extra={"carrier_sid": sid})
        return None
    return apply_status(ref.workspace_id, ref.call_id, params, queues=queues)


# -- answering-machine detection -------------------------------------------------------------


def stream_twiml(settings: Settings, workspace_id: str, call_id: str, *, mode: Optional[str] = None,
                 with_action: bool = True) -> str:
    """The ``<Connect><Stream>`` document that hands a call to the voice gateway.

    Parameters ``token`` (a fresh stream token) and ``call_id``, plus ``mode`` when set
    (``voicemail``). ``with_action``: when the stream ends the carrier asks ``after_stream``
    what to do next (transfer or hang up).

    Raises :class:`~callingbox.core.errors.ServiceUnavailable` when the stream-token key
    (:func:`~callingbox.core.signing_keys.stream_token_key`) or the public API URL is missing or
    cannot be read.
    """
    token = sign_stream_token(stream_token_key(settings), workspace_id=workspace_id, call_id=call_id)
    parameters = {"token": token, "call_id": call_id}
    if mode:
        parameters["mode"] = mode
    action = public_url(settings, call_hook_path(workspace_id, call_id, "after_stream")) if with_action else None
    return connect_stream_twiml(settings.gateway_url, parameters, action_url=action)


def _answered_by(value: str) -> str:
    if value == "human":
        return "human"
    if value.startswith("machine") or value == "fax":
        return "machine"
    return "unknown"


def apply_amd(workspace_id: str, call_id: str, params: Mapping[str, str], *, settings: Settings,
              carrier: Callable[[], Carrier]) -> Optional[call_store.Transition]:
    """Record ``answered_by``; for a machine, hang up or leave the agent's message (see the module docstring)."""
    raw = params.get("AnsweredBy", "")
    kind = _answered_by(raw)
    try:
        doc = call_store.get_call(workspace_id, call_id).doc
    except NotFound:
        _log().warning("AMD callback for an unknown call", extra={"call_id": call_id})
        return None
    if kind != "machine" or is_terminal(doc["status"]):
        # A human, an unsure detector, or a call already over: note who answered, nothing else.
        def note(current: dict[str, Any]) -> Optional[dict[str, Any]]:
            if current.get("answered_by") is not None:
                return None
            current["answered_by"] = kind
            return current

        return call_store.update_call(workspace_id, call_id, note)
    snapshot = doc.get("agent_snapshot") or {}
    leave = (snapshot.get("voicemail_action") == "leave_message" and raw in _MESSAGE_END
             and bool(snapshot.get("voicemail_message")))
    now = now_s()

    def end(current: dict[str, Any]) -> Optional[dict[str, Any]]:
        if not can_transition(current["status"], CallStatus.NO_ANSWER):
            return None
        started = current.get("started_at") or current.get("answered_at") or now
        current.update(status=CallStatus.NO_ANSWER.value, answered_by="machine",
                       end_reason=EndReason.VOICEMAIL.value, billable_seconds=0, ended_at=now,
                       duration_seconds=max(0, now - int(started)),
                       voicemail={"action": "leave_message" if leave else "hangup", "left": False})
        if current.get("carrier_sid") is None and params.get("CallSid"):
            current["carrier_sid"] = params["CallSid"]
        return current

    outcome = call_store.update_call(workspace_id, call_id, end)
    if not outcome.changed:
        return outcome
    sid = outcome.doc.get("carrier_sid") or params.get("CallSid")
    if not sid:
        return outcome
    try:
        if leave:
            carrier().redirect(sid, stream_twiml(settings, workspace_id, call_id, mode="voicemail", with_action=False))
        else:
            carrier().hang_up(sid)
    except CarrierError as error:
        _log().error("voicemail handling failed at the carrier", extra={"call_id": call_id, "error": error.message})
        if leave:
            try:
                carrier().hang_up(sid)
            except CarrierError:
                pass  # already logged; the gateway stops on its next heartbeat and the call ends
    return outcome


# -- after the stream: transfer or hang up -------------------------------------------------------


def _our_number(doc: Mapping[str, Any]) -> Optional[str]:
    return doc.get("from_number") if doc.get("direction") == "outbound" else doc.get("to_number")


def after_stream(workspace_id: str, call_id: str, params: Mapping[str, str], *, settings: Settings) -> str:
    """The TwiML once the gateway's stream has closed: ``<Dial>`` for a requested transfer, else ``<Hangup/>``.

    A pending voicemail (the stream closed before the redirect took over) gets the voicemail stream.
    """
    try:
        doc = call_store.get_call(workspace_id, call_id).doc
    except NotFound:
        return hangup_twiml()
    voicemail = doc.get("voicemail") or {}
    if voicemail.get("action") == "leave_message" and not voicemail.get("left"):
        return stream_twiml(settings, workspace_id, call_id, mode="voicemail", with_action=False)
    transfer = doc.get("transfer") or {}
    to = transfer.get("to")
    if transfer.get("status") != "requested" or not isinstance(to, str) or not to.startswith("+"):
        return hangup_twiml()

    def dialing(current: dict[str, Any]) -> Optional[dict[str, Any]]:
        moved = dict(current.get("transfer") or {})
        if moved.get("status") != "requested":
            return None
        moved.update(status="dialing", started_at=now_s())
        current["transfer"] = moved
        return current

    call_store.update_call(workspace_id, call_id, dialing)
    return dial_twiml(to, action_url=public_url(settings, call_hook_path(workspace_id, call_id, "transfer_status")),
                      caller_id=_our_number(doc))


def record_transfer_outcome(workspace_id: str, call_id: str, params: Mapping[str, str]) -> str:
    """The ``<Dial action>``: note ``DialCallStatus`` and ``DialCallDuration`` on the call's transfer; ``<Hangup/>``."""
    status = params.get("DialCallStatus") or "failed"

    def note(current: dict[str, Any]) -> Optional[dict[str, Any]]:
        transfer = dict(current.get("transfer") or {})
        if not transfer or transfer.get("status") == status:
            return None
        transfer.update(status=status, duration_seconds=_int(params.get("DialCallDuration")), ended_at=now_s())
        if params.get("DialCallSid"):
            transfer["carrier_sid"] = params["DialCallSid"]
        current["transfer"] = transfer
        return current

    try:
        call_store.update_call(workspace_id, call_id, note)
    except NotFound:
        _log().warning("transfer outcome for an unknown call", extra={"call_id": call_id})
    return hangup_twiml()


# -- inbound calls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundAnswer:
    """What the voice webhook answers: the TwiML, the decision, and the call created (if answered)."""

    twiml: str
    decision: InboundDecision
    call_id: Optional[str] = None
    workspace_id: Optional[str] = None


def _resolves_publicly(url: str, *, allow_insecure: bool) -> bool:
    """Every address the URL's host resolves to is public (or loopback, in the local stack)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    import ipaddress

    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not (is_public_address(address) or (allow_insecure and address.is_loopback)):
            return False
    return bool(infos)


def ask_incoming_webhook(url: str, payload: Mapping[str, Any], *, allow_insecure: bool,
                         timeout_s: float = INCOMING_WEBHOOK_TIMEOUT_S) -> Optional[Any]:
    """POST ``payload`` to the customer's incoming-call webhook; its JSON reply, or None on any failure.

    The URL is checked again here (it was checked when saved, but a DNS name can change): https to
    a public address only (http/loopback too in the local stack). No redirects are followed.
    """
    try:
        check_customer_url(url, param="incoming_call_webhook_url", allow_insecure=allow_insecure)
    except ApiError:
        return None
    if not _resolves_publicly(url, allow_insecure=allow_insecure):
        _log().warning("incoming call webhook refused: not a public address", extra={"url": url})
        return None
    import httpx

    try:
        response = httpx.post(url, json=dict(payload), timeout=timeout_s, follow_redirects=False,
                              headers={"User-Agent": "CallingBox"})
    except httpx.HTTPError as error:
        _log().warning("incoming call webhook failed", extra={"url": url, "error": repr(error)})
        return None
    if not response.is_success:
        _log().warning("incoming call webhook answered an error", extra={"url": url, "status": response.status_code})
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _inbound_snapshot(agent: dict[str, Any]) -> dict[str, Any]:
    """The agent's config as the call runs it: no overrides, no context (a placeholder stays as written)."""
    snapshot = {key: value for key, value in agent.items() if key not in ("object", "archived")}
    for field in ("persona", "instructions", "first_message", "voicemail_message"):
        try:
            snapshot[field] = templating.render(snapshot.get(field), {})
        except templating.UnknownVariable:
            pass
    return snapshot


def _insert_inbound(workspace_id: str, call_id: str, agent: dict[str, Any], number_id: str,
                    params: Mapping[str, str]) -> dict[str, Any]:
    now = now_s()
    snapshot = _inbound_snapshot(agent)
    doc: dict[str, Any] = {
        "id": call_id, "object": "call", "agent_id": agent["id"], "direction": "inbound",
        "from_number": params.get("From") or None, "to_number": params["To"], "number_id": number_id,
        # Answered the moment the carrier runs our <Connect>; the gateway's stream follows at once.
        "status": CallStatus.IN_PROGRESS.value, "answered_by": None, "end_reason": None,
        "started_at": now, "answered_at": now, "ended_at": None, "duration_seconds": None,
        "billable_seconds": 0, "result": None, "extraction": None, "transcript_url": None,
        "recording_url": None, "latency": [], "instructions": snapshot.get("instructions"),
        "webhook_url": agent.get("webhook_url"), "metadata": {}, "context": None, "agent_snapshot": snapshot,
        "carrier_sid": params.get("CallSid"), "created": now, "updated": now,
    }
    call_store.insert_call(workspace_id, doc)
    return doc


def answer_inbound(params: Mapping[str, str], *, settings: Settings,
                   ask_webhook: Callable[..., Optional[Any]] = ask_incoming_webhook) -> InboundAnswer:
    """The inbound voice webhook: route the call (:mod:`callingbox.core.routing`) and answer or refuse it.

    Refused calls leave no call record (only a log line). A retried webhook (same ``CallSid``)
    answers with the call it already created.
    """
    from .store import agents as agent_store
    from .store import numbers as number_store
    from .store.call_sids import claim_sid, find_sid
    from .store.number_routes import find_route

    to, caller, sid = params.get("To", ""), params.get("From", ""), params.get("CallSid", "")
    log = _log()
    known = find_sid(sid) if sid else None
    route = find_route(to) if to else None
    if route is None:
        log.info("inbound call to a number we do not hold", extra={"to": to, "carrier_sid": sid})
        return InboundAnswer(reject_twiml(), InboundDecision(InboundAction.REJECT, "unknown_number"))
    try:
        number = number_store.get_number(route.workspace_id, route.number_id).doc
    except NotFound:
        return InboundAnswer(reject_twiml(), InboundDecision(InboundAction.REJECT, "unknown_number"))
    agent: Optional[dict[str, Any]] = None
    if number.get("inbound_agent_id"):
        try:
            agent = agent_store.get_agent(route.workspace_id, number["inbound_agent_id"]).doc
        except NotFound:
            agent = None
    available = agent is not None and not agent.get("archived") and agent.get("type") == "inbound"
    if known is not None and known.workspace_id == route.workspace_id and available:
        decision = InboundDecision(InboundAction.ANSWER, "retried")
    else:
        rule = number_store.get_caller_rule(route.workspace_id, route.number_id, caller) if caller else None
        decision = route_inbound(number, [rule.doc] if rule else [], caller, agent_available=available)
        if decision.action is InboundAction.ASK_WEBHOOK:
            reply = ask_webhook(number["incoming_call_webhook_url"],
                                {"call": {"from": caller, "to": to, "number_id": route.number_id}},
                                allow_insecure=settings.allow_insecure_urls)
            decision = resolve_webhook_reply(reply, agent_available=available)
    extra = {"to": to, "carrier_sid": sid, "number_id": route.number_id, "reason": decision.reason}
    if decision.action is InboundAction.REJECT:
        log.info("inbound call rejected", extra=extra)
        return InboundAnswer(reject_twiml("rejected"), decision)
    if decision.action is InboundAction.IGNORE:
        # Twilio answers a call as soon as it runs any verb but <Reject>, so there is no "let it
        # ring": a busy tone is the closest to nobody picking up, and nothing is billed.
        log.info("inbound call ignored", extra=extra)
        return InboundAnswer(reject_twiml("busy"), decision)
    assert agent is not None
    call_id = new_id("call")
    if sid:
        existing = claim_sid(sid, route.workspace_id, call_id)
        if existing is not None:
            call_id = existing.call_id  # the carrier retried: the same call answers
    try:
        doc = call_store.get_call(route.workspace_id, call_id).doc
    except NotFound:
        doc = _insert_inbound(route.workspace_id, call_id, agent, route.number_id, params)
    from .call_events import announce

    announce(settings, route.workspace_id, doc)  # call.answered (once per call, retries included)
    log.info("inbound call answered", extra={**extra, "call_id": call_id})
    return InboundAnswer(stream_twiml(settings, route.workspace_id, call_id), decision, call_id, route.workspace_id)
