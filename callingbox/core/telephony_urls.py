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

from typing import Literal, Mapping, Optional, Sequence

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
    """The URL the carrier calls for ``path`` (and signs): see :func:`callingbox.core.carrier.signatures.public_url`."""
    from .carrier.signatures import public_url as carrier_public_url

    return carrier_public_url(settings, path, query)


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


def is_valid_signature(auth_token: str, url: str, params: FormParams, signature: Optional[str]) -> bool:
    """True when ``signature`` (``X-Twilio-Signature``) signs ``url`` + every form value with ``auth_token``."""
    from .carrier.signatures import is_valid_twilio_request

    return is_valid_twilio_request(auth_token, url, {name: params.getall(name) for name in params}, signature)


def connect_stream_twiml(stream_url: str, parameters: Mapping[str, str], *, action_url: Optional[str] = None) -> str:
    """``<Connect [action]><Stream url><Parameter …/></Stream></Connect>``: hand the call to the gateway."""
    from .carrier import twiml

    return twiml.connect_stream(stream_url, parameters, action_url=action_url)


def reject_twiml(reason: Literal["rejected", "busy"] = "rejected") -> str:
    """``<Reject reason/>``: refuse the call without answering it (nothing is billed)."""
    from .carrier import twiml

    return twiml.reject(reason)


def hangup_twiml() -> str:
    """``<Hangup/>``: end an answered call."""
    from .carrier import twiml

    return twiml.hangup()


def dial_twiml(number: str, *, action_url: str, caller_id: Optional[str] = None, timeout_s: int = 30) -> str:
    """``<Dial action callerId timeout><Number/></Dial>``: bridge the call to ``number`` (a transfer)."""
    from .carrier import twiml

    return twiml.dial(number, action_url=action_url, caller_id=caller_id, timeout_s=timeout_s)
