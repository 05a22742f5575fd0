"""What the local carrier remembers: calls (with everything each one did and heard) and numbers."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from callingbox.core.media.client import MediaStreamsClient

__all__ = [
    "new_sid",
    "utc_now",
    "TERMINAL_STATUSES",
    "CALL_STATUSES",
    "CallEvent",
    "SpokenLine",
    "StreamRecord",
    "CallRecord",
    "NumberRecord",
]

CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled")
"""A Call resource's ``status`` values (Twilio's; ``initiated`` is a callback event, not a status)."""
TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def new_sid(prefix: str) -> str:
    """A Twilio-shaped sid: two capital letters then 32 lower-case hex digits (``CA…``, ``PN…``)."""
    return prefix + uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CallEvent:
    """One thing that happened to a call: ``kind`` (``status``, ``callback``, ``twiml``, ``stream``,
    ``speak``, ``amd``, ``dial``, ``error``…) and its details."""

    at: float
    """``time.monotonic()``."""
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class SpokenLine:
    """A line the far end said into the call."""

    started_at: float
    ended_at: float
    text: str
    stream_sid: str


@dataclass
class StreamRecord:
    """One ``<Connect><Stream>``: its parameters and the client that played Twilio's side."""

    stream_sid: str
    url: str
    parameters: dict[str, str]
    client: Optional["MediaStreamsClient"] = None
    opened_at: Optional[float] = None
    closed_by: Optional[str] = None
    """``gateway`` (the server closed it), ``carrier`` (REST update, time limit), ``callee`` (hung up)
    or ``error`` (it never opened)."""

    @property
    def heard_audio(self) -> bytes:
        """The gateway's audio as the far end's speaker played it (μ-law)."""
        return b"" if self.client is None else self.client.heard_audio


@dataclass
class CallRecord:
    """One call leg as the network sees it, with its Twilio fields and its full history."""

    sid: str
    account_sid: str
    to: str
    from_: str
    direction: str
    """``outbound-api``, ``outbound-dial`` (a ``<Dial>`` leg) or ``inbound``."""
    options: dict[str, Any] = field(default_factory=dict)
    """The create parameters (Twilio's names): StatusCallback, StatusCallbackEvent, Timeout…"""
    status: str = "queued"
    date_created: datetime = field(default_factory=utc_now)
    date_updated: datetime = field(default_factory=utc_now)
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    answered_at: Optional[float] = None
    """``time.monotonic()`` of the answer."""
    duration: Optional[int] = None
    answered_by: Optional[str] = None
    parent_call_sid: Optional[str] = None
    phone_number_sid: Optional[str] = None
    status_history: list[tuple[float, str]] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)
    streams: list[StreamRecord] = field(default_factory=list)
    spoken: list[SpokenLine] = field(default_factory=list)

    def log(self, kind: str, **detail: Any) -> CallEvent:
        """Append an event to :attr:`events`."""
        event = CallEvent(time.monotonic(), kind, detail)
        self.events.append(event)
        return event

    def events_of(self, kind: str) -> list[CallEvent]:
        return [event for event in self.events if event.kind == kind]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def statuses(self) -> list[str]:
        """The statuses the call went through, in order."""
        return [status for _, status in self.status_history]

    @property
    def heard_audio(self) -> bytes:
        """Everything the far end heard from the gateway, over all of the call's streams."""
        return b"".join(stream.heard_audio for stream in self.streams)

    @property
    def spoken_text(self) -> list[str]:
        """The far end's lines, in order."""
        return [line.text for line in self.spoken]


@dataclass
class NumberRecord:
    """An IncomingPhoneNumber of the account. ``fields`` holds the writable Twilio properties."""

    sid: str
    phone_number: str
    account_sid: str
    fields: dict[str, Any] = field(default_factory=dict)
    date_created: datetime = field(default_factory=utc_now)
    date_updated: datetime = field(default_factory=utc_now)

    @property
    def voice_url(self) -> Optional[str]:
        return self.fields.get("voice_url") or None

    @property
    def voice_method(self) -> str:
        return (self.fields.get("voice_method") or "POST").upper()

    @property
    def status_callback(self) -> Optional[str]:
        return self.fields.get("status_callback") or None

    @property
    def status_callback_method(self) -> str:
        return (self.fields.get("status_callback_method") or "POST").upper()
