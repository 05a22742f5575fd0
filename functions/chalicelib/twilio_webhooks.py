"""Routes: the carrier's webhooks (form-encoded POSTs, answered with TwiML; layout in
:mod:`callingbox.core.telephony_urls`).

No API key here: every request must carry a valid ``X-Twilio-Signature`` over the exact public URL
the carrier called (``CALLINGBOX_PUBLIC_API_URL`` + the path; without that variable, the URL API
Gateway reports in the request context: :meth:`runtime.Runtime.settings_for`) and the form fields.
A missing or forged signature is a 403 ``permission_error`` / ``invalid_signature``, checked
before anything is read or written. The handlers get the same per-request settings, so the URLs
they give the carrier (``<Connect action>``, ``<Dial action>``) are on the host it called.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Optional
from urllib.parse import urlencode

from chalice import Blueprint, Response

from callingbox.core.call_states import CallStatus
from callingbox.core.errors import ApiError
from callingbox.core.observability import get_logger
from callingbox.core.settings import Settings
from callingbox.core.telephony_urls import (
    NUMBER_STATUS_PATH,
    TWIML_CONTENT_TYPE,
    VOICE_PATH,
    FormParams,
    call_hook_path,
    is_valid_signature,
    parse_form,
    public_url,
)

from . import runtime

bp = Blueprint(__name__)

FORM = ["application/x-www-form-urlencoded"]
SIGNATURE_HEADER = "x-twilio-signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'

Handler = Callable[[FormParams, "runtime.Runtime", Settings], Optional[str]]
"""``(form, runtime, this request's settings) -> TwiML or None`` (``None``: an empty ``<Response/>``)."""


class InvalidSignature(ApiError):
    """The request is not signed by the carrier account (or was altered)."""

    status = 403
    type = "permission_error"
    code = "invalid_signature"

    @property
    def should_retry(self) -> Optional[bool]:
        return False


def _auth_token(settings: Settings) -> str:
    """The secret the carrier signs webhooks with: the Twilio account's auth token (env or Secrets Manager)."""
    from callingbox.core.carrier.credentials import auth_token_from_settings

    return auth_token_from_settings(settings)


def _announce(rt: Any, workspace_id: Optional[str], outcome: Any) -> None:
    """The event of the status a callback moved the call to (keyed per status: repeats are no-ops).

    Announced whenever the call is in that status, not only when this write moved it, so that a
    callback retried after an emit failed finishes the job.
    """
    from callingbox.core.call_events import announce

    if outcome is None:
        return
    doc = outcome.doc
    if doc.get("status") == CallStatus.QUEUED.value:
        # call.queued is the API's to emit when it accepts the call: announcing it from a carrier
        # callback would only find it emitted (a failed conditional write and two reads).
        return
    if workspace_id is None:  # a number-level callback: the call is found by its carrier sid
        from callingbox.core.store.call_sids import find_sid

        ref = find_sid(str(doc.get("carrier_sid") or ""))
        if ref is None:
            return
        workspace_id = ref.workspace_id
    announce(rt.settings, workspace_id, doc)


def _error(error: ApiError, request_id: str) -> Response:
    return Response(body=json.dumps(error.body(request_id)), status_code=error.status,
                    headers={"Content-Type": "application/json", "Request-Id": request_id})


def _serve(path: str, handle: Handler) -> Response:
    request = bp.current_request
    context = request.context or {}
    request_id = str(context.get("requestId") or f"req_{uuid.uuid4().hex}")
    logger = get_logger("telephony")
    logger.set_correlation_id(request_id)
    try:
        rt = runtime.current()
        settings = rt.settings_for(context)
        params = parse_form(request.raw_body)
        query = urlencode(list((request.query_params or {}).items()))
        url = public_url(settings, path, query)  # 503 public_url_not_configured without one
        signature = (request.headers or {}).get(SIGNATURE_HEADER)
        if not is_valid_signature(_auth_token(settings), url, params, signature):
            logger.warning("carrier webhook refused: bad signature", extra={"path": path, "signed": bool(signature)})
            raise InvalidSignature("X-Twilio-Signature is missing or does not match this request",
                                   param="X-Twilio-Signature")
        twiml = handle(params, rt, settings)
    except ApiError as error:
        return _error(error, request_id)
    except Exception:
        logger.exception("carrier webhook failed", extra={"path": path})
        return _error(ApiError("an internal error occurred; it has been logged"), request_id)
    return Response(body=twiml or EMPTY_TWIML, status_code=200,
                    headers={"Content-Type": TWIML_CONTENT_TYPE, "Request-Id": request_id})


@bp.route(VOICE_PATH, methods=["POST"], content_types=FORM)
def voice() -> Response:
    """A number's voice URL: route the inbound call and answer (<Connect><Stream>) or refuse it."""
    from callingbox.core.telephony import answer_inbound

    return _serve(VOICE_PATH, lambda params, rt, settings: answer_inbound(params, settings=settings).twiml)


@bp.route(NUMBER_STATUS_PATH, methods=["POST"], content_types=FORM)
def number_status() -> Response:
    """A number's status callback (inbound calls)."""
    from callingbox.core.telephony import apply_number_status

    def handle(params: FormParams, rt: Any, settings: Settings) -> None:
        _announce(rt, None, apply_number_status(params, queues=rt.queues))

    return _serve(NUMBER_STATUS_PATH, handle)


@bp.route("/twilio/calls/{workspace_id}/{call_id}/status", methods=["POST"], content_types=FORM)
def call_status(workspace_id: str, call_id: str) -> Response:
    """An outbound call's status callback."""
    from callingbox.core.telephony import apply_status

    def handle(params: FormParams, rt: Any, settings: Settings) -> None:
        _announce(rt, workspace_id, apply_status(workspace_id, call_id, params, queues=rt.queues))

    return _serve(call_hook_path(workspace_id, call_id, "status"), handle)


@bp.route("/twilio/calls/{workspace_id}/{call_id}/amd", methods=["POST"], content_types=FORM)
def call_amd(workspace_id: str, call_id: str) -> Response:
    """The asynchronous answering-machine detection result."""
    from callingbox.core.telephony import apply_amd

    def handle(params: FormParams, rt: Any, settings: Settings) -> None:
        _announce(rt, workspace_id, apply_amd(workspace_id, call_id, params, settings=settings, carrier=rt.carrier))

    return _serve(call_hook_path(workspace_id, call_id, "amd"), handle)


@bp.route("/twilio/calls/{workspace_id}/{call_id}/after_stream", methods=["POST"], content_types=FORM)
def call_after_stream(workspace_id: str, call_id: str) -> Response:
    """The <Connect action>: a transfer's <Dial>, or <Hangup/>."""
    from callingbox.core.telephony import after_stream

    return _serve(call_hook_path(workspace_id, call_id, "after_stream"),
                  lambda params, rt, settings: after_stream(workspace_id, call_id, params, settings=settings))


@bp.route("/twilio/calls/{workspace_id}/{call_id}/transfer_status", methods=["POST"], content_types=FORM)
def call_transfer_status(workspace_id: str, call_id: str) -> Response:
    """The <Dial action>: the transfer's outcome; then <Hangup/>."""
    from callingbox.core.telephony import record_transfer_outcome

    return _serve(call_hook_path(workspace_id, call_id, "transfer_status"),
                  lambda params, rt, settings: record_transfer_outcome(workspace_id, call_id, params))
