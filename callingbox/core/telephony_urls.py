"""The carrier webhooks' URL layout, the public URLs the carrier is given, the TwiML documents we
answer with, and the check of the carrier's request signature.

Every carrier webhook is a form-encoded POST on the API's own host, outside ``/v1`` (the carrier
authenticates with ``X-Twilio-Signature``, not an API key)::

    /twilio/voice                                   a number's voice URL (inbound calls)
    /twilio/status                                  a number's status callback (inbound calls)
    /twilio/calls/{workspace_id}/{call_id}/status          outbound status callback
    /twilio/calls/{workspace_id}/{call_id}/amd             answering-machine detection result
    /twilio/calls/{workspace_id}/{call_id}/after_stream    <Connect action>: transfer or hang up
    /twilio/calls/{workspace_id}/{call_id}/transfer_status <Dial action>: the transfer's outcome

The carrier signs the exact URL it called, so :func:`public_url` (``settings.public_api_url`` plus
the path) is both what we give it and what we check its signature against.

The Twilio SDK is imported lazily: the API's cold start never pays for it.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional, Sequence

from .settings import Settings

__all__ = [
    "VOICE_PATH",
    "NUMBER_STATUS_PATH",
    "CALL_HOOKS",
    "CallHook",
    "call_hook_path",
    "public_url",
    "FormParams",
    "parse_form",
    "is_valid_signature",
    "connect_stream_twiml",
    "reject_twiml",
    "hangup_twiml",
    "dial_twiml",
    "TWIML_CONTENT_TYPE",
]

VOICE_PATH = "/twilio/voice"
NUMBER_STATUS_PATH = "/twilio/status"
CallHook = Literal["status", "amd", "after_stream", "transfer_status"]
CALL_HOOKS: tuple[CallHook, ...] = ("status", "amd", "after_stream", "transfer_status")
TWIML_CONTENT_TYPE = "text/xml"


def call_hook_path(workspace_id: str, call_id: str, hook: CallHook) -> str:
    """The path of one call's webhook (see the module docstring)."""
    if hook not in CALL_HOOKS:
        raise ValueError(f"unknown call webhook {hook!r}; one of {', '.join(CALL_HOOKS)}")
    return f"/twilio/calls/{workspace_id}/{call_id}/{hook}"


def public_url(settings: Settings, path: str, query: str = "") -> str:
    """The URL the carrier calls for ``path`` (and signs): ``public_api_url`` + path [+ ``?query``].

    Raises ``RuntimeError`` when ``CALLINGBOX_PUBLIC_API_URL`` is not set: without it no callback
    could reach us, nor could a signature be checked.
    """
    if not settings.public_api_url:
        raise RuntimeError("CALLINGBOX_PUBLIC_API_URL is not set; the carrier cannot reach the webhooks")
    return f"{settings.public_api_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


class FormParams(dict):  # type: ignore[type-arg]
    """A form body: the last value of each field by key, every value through :meth:`getall`.

    ``RequestValidator`` signs every value of a repeated field; this shape lets it see them all
    while handlers read one string per field.
    """

    def __init__(self, values: Mapping[str, Sequence[str]]) -> None:
        super().__init__({name: items[-1] for name, items in values.items() if items})
        self._all = {name: list(items) for name, items in values.items()}

    def getall(self, name: str) -> list[str]:
        """Every value sent for ``name`` (what the signature covers)."""
        return self._all[name]


def parse_form(raw_body: bytes | str | None) -> FormParams:
    """Parse an ``application/x-www-form-urlencoded`` body (blank values kept: they are signed too)."""
    from urllib.parse import parse_qs

    text = raw_body.decode("utf-8", errors="replace") if isinstance(raw_body, bytes) else (raw_body or "")
    return FormParams(parse_qs(text, keep_blank_values=True))


def is_valid_signature(auth_token: str, url: str, params: Mapping[str, Any], signature: Optional[str]) -> bool:
    """True when ``signature`` (the ``X-Twilio-Signature`` header) signs ``url`` + ``params`` with ``auth_token``.

    A missing signature or an unset auth token is never valid.
    """
    if not signature or not auth_token:
        return False
    from twilio.request_validator import RequestValidator

    return bool(RequestValidator(auth_token).validate(url, params, signature))


def _response() -> Any:
    from twilio.twiml.voice_response import VoiceResponse

    return VoiceResponse()


def connect_stream_twiml(stream_url: str, parameters: Mapping[str, str], *, action_url: Optional[str] = None) -> str:
    """``<Connect [action]><Stream url><Parameter …/></Stream></Connect>``: hand the call to the gateway.

    When the stream ends, the carrier fetches ``action_url`` for what comes next (a transfer's
    ``<Dial>`` or ``<Hangup/>``); without one the call simply ends.
    """
    from twilio.twiml.voice_response import Connect

    response = _response()
    connect = Connect(action=action_url) if action_url else Connect()
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response.to_xml())


def reject_twiml(reason: Literal["rejected", "busy"] = "rejected") -> str:
    """``<Reject reason/>``: refuse the call without answering it (nothing is billed)."""
    response = _response()
    response.reject(reason=reason)
    return str(response.to_xml())


def hangup_twiml() -> str:
    """``<Hangup/>``: end an answered call."""
    response = _response()
    response.hangup()
    return str(response.to_xml())


def dial_twiml(number: str, *, action_url: str, caller_id: Optional[str] = None, timeout_s: int = 30) -> str:
    """``<Dial action callerId timeout><Number/></Dial>``: bridge the call to ``number`` (a transfer)."""
    response = _response()
    options: dict[str, Any] = {"action": action_url, "timeout": timeout_s}
    if caller_id:
        options["caller_id"] = caller_id
    dial = response.dial(**options)
    dial.number(number)
    return str(response.to_xml())
