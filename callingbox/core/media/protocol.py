"""Twilio Media Streams messages (bidirectional ``<Connect><Stream>``), parsed and built.

Twilio → us: ``connected``, ``start``, ``media``, ``dtmf``, ``mark``, ``stop``.
Us → Twilio: ``media`` (base64 μ-law 8 kHz), ``mark`` (echoed back once the audio before it has
played), ``clear`` (drop buffered audio: barge-in). Every message after ``connected`` carries
``streamSid`` and a ``sequenceNumber`` (a string, counting from 1).

These run 50 times a second per direction per call: plain dataclasses and ``json``, no pydantic.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Optional, Union

__all__ = [
    "Connected",
    "Start",
    "Media",
    "Dtmf",
    "Mark",
    "Stop",
    "Inbound",
    "ProtocolError",
    "parse",
    "media_message",
    "mark_message",
    "clear_message",
    "TwilioSide",
    "parse_outbound",
]


class ProtocolError(ValueError):
    """A message that is not valid Media Streams JSON."""


@dataclass(frozen=True)
class Connected:
    protocol: str = "Call"
    version: str = "1.0.0"


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True)
class Media:
    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True)
class Dtmf:
    stream_sid: str
    digit: str


@dataclass(frozen=True)
class Mark:
    stream_sid: str
    name: str


@dataclass(frozen=True)
class Stop:
    stream_sid: str
    call_sid: str = ""


Inbound = Union[Connected, Start, Media, Dtmf, Mark, Stop]


def _require(obj: Any, key: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ProtocolError(f"missing {key!r}")
    return obj[key]


def _text(value: Any, what: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ProtocolError(f"{what} must be a string")
    return str(value)


def parse(raw: Union[str, bytes]) -> Inbound:
    """One message from Twilio (or a client speaking Twilio's side); anything else is a ProtocolError."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"not JSON: {error}") from None
    try:
        return _parse(message)
    except (ValueError, TypeError, AttributeError) as error:
        if isinstance(error, ProtocolError):
            raise
        raise ProtocolError(f"malformed message: {error}") from None


def _parse(message: Any) -> Inbound:
    event = _require(message, "event")
    if event == "connected":
        return Connected(str(message.get("protocol", "Call")), str(message.get("version", "1.0.0")))
    sid = str(message.get("streamSid", ""))
    if event == "media":
        media = _require(message, "media")
        try:
            payload = base64.b64decode(_require(media, "payload"), validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ProtocolError("media payload is not base64") from None
        return Media(sid, str(media.get("track", "inbound")), int(media.get("chunk", 0)),
                     int(media.get("timestamp", 0)), payload)
    if event == "start":
        start = _require(message, "start")
        fmt = start.get("mediaFormat") or {}
        params = start.get("customParameters") or {}
        tracks = start.get("tracks") or ["inbound"]
        if not isinstance(params, dict) or not isinstance(fmt, dict) or not isinstance(tracks, list):
            raise ProtocolError("start has a malformed customParameters, mediaFormat or tracks")
        return Start(
            stream_sid=str(start.get("streamSid", sid)), call_sid=str(start.get("callSid", "")),
            account_sid=str(start.get("accountSid", "")), tracks=tuple(str(track) for track in tracks),
            custom_parameters={str(k): str(v) for k, v in params.items()},
            encoding=str(fmt.get("encoding", "audio/x-mulaw")), sample_rate=int(fmt.get("sampleRate", 8000)),
            channels=int(fmt.get("channels", 1)),
        )
    if event == "dtmf":
        return Dtmf(sid, _text(_require(_require(message, "dtmf"), "digit"), "dtmf.digit"))
    if event == "mark":
        return Mark(sid, _text(_require(_require(message, "mark"), "name"), "mark.name"))
    if event == "stop":
        stop = message.get("stop") or {}
        return Stop(sid, str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
    raise ProtocolError(f"unknown event {event!r}")


def media_message(stream_sid: str, ulaw: bytes) -> str:
    """Audio for Twilio to play (any length; Twilio buffers and plays in order)."""
    payload = base64.b64encode(ulaw).decode("ascii")
    return f'{{"event":"media","streamSid":{json.dumps(stream_sid)},"media":{{"payload":"{payload}"}}}}'


def mark_message(stream_sid: str, name: str) -> str:
    """Ask Twilio to echo ``name`` once everything sent before it has played."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Drop every buffered, unplayed media message (marks after them are echoed at once)."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


@dataclass
class TwilioSide:
    """Builds the messages Twilio sends, for the local carrier and test clients."""

    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    _sequence: int = 0
    _chunk: int = 0

    def _next(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self) -> str:
        return json.dumps({
            "event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
            "start": {
                "streamSid": self.stream_sid, "accountSid": self.account_sid, "callSid": self.call_sid,
                "tracks": ["inbound"], "customParameters": self.custom_parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })

    def media(self, ulaw: bytes, timestamp_ms: int) -> str:
        self._chunk += 1
        payload = base64.b64encode(ulaw).decode("ascii")
        return (f'{{"event":"media","sequenceNumber":"{self._next()}","streamSid":{json.dumps(self.stream_sid)},'
                f'"media":{{"track":"inbound","chunk":"{self._chunk}","timestamp":"{timestamp_ms}",'
                f'"payload":"{payload}"}}}}')

    def dtmf(self, digit: str) -> str:
        return json.dumps({"event": "dtmf", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                           "dtmf": {"track": "inbound_track", "digit": digit}})

    def mark(self, name: str) -> str:
        return json.dumps({"event": "mark", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                           "mark": {"name": name}})

    def stop(self) -> str:
        return json.dumps({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                           "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})


def parse_outbound(raw: Union[str, bytes]) -> tuple[str, Optional[bytes], Optional[str]]:
    """What the gateway sent, read on Twilio's side: ``(event, audio, mark name)``."""
    try:
        message = json.loads(raw)
        event = str(message["event"])
        if event == "media":
            return event, base64.b64decode(message["media"]["payload"], validate=True), None
        if event == "mark":
            return event, None, _text(message["mark"]["name"], "mark.name")
        if event == "clear":
            return event, None, None
    except (ValueError, KeyError, TypeError, RecursionError):
        raise ProtocolError("not a Media Streams message") from None
    raise ProtocolError(f"unknown event {event!r}")
