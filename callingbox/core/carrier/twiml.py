"""The TwiML documents the platform hands the carrier, built with the Twilio SDK's ``VoiceResponse``.

The SDK is imported inside each function: only the webhooks and the dialer build TwiML, and the
rest of the API must not pay for the import.
"""

from __future__ import annotations

from typing import Literal, Mapping, Optional

__all__ = ["connect_stream", "reject", "hangup", "dial"]

RejectReason = Literal["rejected", "busy"]


def connect_stream(stream_url: str, parameters: Mapping[str, str], *, action_url: Optional[str] = None) -> str:
    """``<Connect><Stream url=…>`` with one ``<Parameter>`` per entry of ``parameters``.

    The parameters reach the gateway in the stream's ``start`` message (``customParameters``):
    this is how the signed stream token travels, never in the URL, which Twilio logs. With
    ``action_url`` Twilio requests it when the stream ends, so the call can continue (a transfer's
    ``<Dial>``); without it the call hangs up when the stream closes.
    """
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    connect = response.connect(action=action_url, method="POST" if action_url else None)
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    return str(response)


def reject(reason: RejectReason = "rejected") -> str:
    """``<Reject reason=…>``: the caller hears a busy signal (``busy``) or a not-in-service tone."""
    if reason not in ("rejected", "busy"):
        raise ValueError(f"reason must be 'rejected' or 'busy', not {reason!r}")
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.reject(reason=reason)
    return str(response)


def hangup() -> str:
    """``<Hangup/>``."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.hangup()
    return str(response)


def dial(number: str, *, action_url: str, caller_id: Optional[str] = None, timeout_s: int = 30) -> str:
    """``<Dial>`` ``number`` (a transfer); Twilio POSTs the outcome (``DialCallStatus``) to ``action_url``."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    dial = response.dial(action=action_url, method="POST", caller_id=caller_id, timeout=timeout_s)
    dial.number(number)
    return str(response)
