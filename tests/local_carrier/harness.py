"""Real servers on loopback for the local carrier's tests.

* :class:`LocalTwilioHttpClient` — the Twilio SDK's own HTTP client with ``https://api.twilio.com``
  swapped for the carrier's URL, so ``twilio.rest.Client`` runs unchanged.
* :class:`WebhookReceiver` — an application (stdlib ``http.server``) that records every request,
  checks ``X-Twilio-Signature`` with ``RequestValidator`` and answers TwiML per path.
* :class:`GatewayStandIn` — a Media Streams server (``websockets``) that behaves as the
  ``mode`` ``<Parameter>`` of each stream says.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator

from callingbox.core.media.mulaw import rms, ulaw_to_pcm16
from callingbox.core.media.protocol import media_message
from callingbox.local.carrier.speech import tone_ulaw

SPEECH_RMS = 300
ACCOUNT_SID = "AC" + uuid.uuid4().hex
AUTH_TOKEN = uuid.uuid4().hex


class LocalTwilioHttpClient(TwilioHttpClient):
    """The SDK's requests client, sending ``api.twilio.com`` requests to ``base_url``."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        assert self.session is not None
        self.session.trust_env = False  # loopback: never through a proxy

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, re.sub(r"^https://api\.twilio\.com", self.base_url, url), *args, **kwargs)


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


@dataclass
class Received:
    """One request the application received."""

    at: float
    method: str
    path: str
    url: str
    form: dict[str, str]
    headers: dict[str, str]
    signature_valid: bool


class WebhookReceiver:
    """An application on loopback: answers ``responses[path]`` (TwiML) or an empty 200."""

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.requests: list[Received] = []
        self.responses: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = f"http://127.0.0.1:{receiver.port}{self.path}"
                parts = urlsplit(self.path)
                form = dict(parse_qsl(body, keep_blank_values=True)) if self.command == "POST" else {}
                params = form if self.command == "POST" else {}
                if self.command == "GET":
                    form = dict(parse_qsl(parts.query, keep_blank_values=True))
                valid = receiver.validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
                with receiver._lock:
                    receiver.requests.append(Received(time.monotonic(), self.command, parts.path, url, form,
                                                      dict(self.headers), valid))
                    status, text = receiver.responses.get(parts.path, (200, ""))
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml" if text else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = _handle
            do_GET = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def respond(self, path: str, twiml: str, status: int = 200) -> str:
        """Answer ``path`` with ``twiml``; returns the full URL."""
        self.responses[path] = (status, twiml)
        return self.url(path)

    def received(self, path: str) -> list[Received]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        return eventually(lambda: (found := self.received(path)) and len(found) >= count and found, timeout)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class GatewaySession:
    """One media stream as the gateway stand-in saw it."""

    path: str
    events: list[dict[str, Any]] = field(default_factory=list)
    start: Optional[dict[str, Any]] = None
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    utterances: list[tuple[float, float]] = field(default_factory=list)
    """Callee speech as (first speech frame arrival, last speech frame arrival)."""
    replies: list[tuple[float, float]] = field(default_factory=list)
    """Agent audio sent as (sent at, when it finishes playing)."""
    stopped: bool = False
    closed_at: Optional[float] = None
    upgrade_signature: str = ""
    ws: Any = None

    @property
    def stream_sid(self) -> str:
        return str((self.start or {}).get("streamSid", ""))

    @property
    def parameters(self) -> dict[str, str]:
        return dict((self.start or {}).get("start", {}).get("customParameters", {}))

    @property
    def speech_s(self) -> float:
        """Seconds of callee speech received (frames louder than silence)."""
        return sum(0.02 for _, frame in self.frames if rms(ulaw_to_pcm16(frame)) > SPEECH_RMS)

    @property
    def audio(self) -> bytes:
        return b"".join(frame for _, frame in self.frames)


class GatewayStandIn:
    """A Media Streams server on loopback, in its own thread and event loop.

    Modes (the stream's ``mode`` parameter):

    * ``hold`` — listens until the carrier stops the stream or :meth:`close` is called.
    * ``converse`` — answers each callee utterance (after 300 ms of silence) with a 0.6 s tone; closes
      300 ms after the callee's ``close_after`` th utterance (default 2).

    With a ``greet`` parameter (seconds) the gateway first says a tone that long, as an agent's greeting.
    """

    def __init__(self) -> None:
        self.sessions: list[GatewaySession] = []
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)

    def _serve(self, started: threading.Event) -> None:
        from websockets.asyncio.server import serve

        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            await self._server.wait_closed()

        self._loop.run_until_complete(main())
        self._loop.close()

    def url(self, path: str = "/stream") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def _handle(self, ws: Any) -> None:
        session = GatewaySession(path=ws.request.path, ws=ws,
                                 upgrade_signature=ws.request.headers.get("X-Twilio-Signature", ""))
        self.sessions.append(session)
        silent_frames, speaking, utterance_start = 0, False, 0.0
        try:
            async for raw in ws:
                message = json.loads(raw)
                session.events.append(message)
                event = message.get("event")
                if event == "start":
                    session.start = message
                    if session.parameters.get("greet"):
                        await self._say(session, float(session.parameters["greet"]))
                elif event == "media":
                    import base64

                    frame = base64.b64decode(message["media"]["payload"])
                    now = time.monotonic()
                    session.frames.append((now, frame))
                    loud = rms(ulaw_to_pcm16(frame)) > SPEECH_RMS
                    if loud:
                        if not speaking:
                            speaking, utterance_start = True, now
                        silent_frames = 0
                        last_loud = now
                    elif speaking:
                        silent_frames += 1
                        if silent_frames >= 15:  # 300 ms of silence ends an utterance
                            speaking = False
                            session.utterances.append((utterance_start, last_loud))
                            if session.parameters.get("mode") == "converse":
                                await self._on_utterance(session)
                elif event == "stop":
                    session.stopped = True
        finally:
            session.closed_at = time.monotonic()

    async def _on_utterance(self, session: GatewaySession) -> None:
        close_after = int(session.parameters.get("close_after", "2"))
        if len(session.utterances) >= close_after:
            await session.ws.close()
            return
        await self._say(session, 0.6)

    async def _say(self, session: GatewaySession, seconds: float) -> None:
        sent = time.monotonic()
        await session.ws.send(media_message(session.stream_sid, tone_ulaw(seconds, 440.0, 8000)))
        session.replies.append((sent, sent + seconds))

    def say(self, session: GatewaySession, seconds: float) -> None:
        """Send ``seconds`` of agent audio (a 440 Hz tone) on ``session``'s stream."""
        asyncio.run_coroutine_threadsafe(self._say(session, seconds), self._loop).result(5)

    def close(self, session: GatewaySession) -> None:
        """Close ``session``'s stream from the gateway's side."""
        asyncio.run_coroutine_threadsafe(session.ws.close(), self._loop).result(5)

    def wait_for_session(self, path: str, timeout: float = 10.0, index: int = 0) -> GatewaySession:
        def find() -> Optional[GatewaySession]:
            matching = [s for s in self.sessions if s.path == path and s.start is not None]
            return matching[index] if len(matching) > index else None

        return eventually(find, timeout)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(timeout=10)


_sequence = iter(range(10_000))


def unique_path(name: str) -> str:
    """A receiver path no other test uses."""
    return f"/{name}/{next(_sequence)}"


def connect_twiml(stream_url: str, *, action: Optional[str] = None, **parameters: str) -> str:
    """``<Connect><Stream>`` TwiML with ``<Parameter>``s, as CallingBox's adapter writes it."""
    params = "".join(f'<Parameter name="{name}" value="{value}"/>' for name, value in parameters.items())
    action_attr = f' action="{action}"' if action else ""
    return f'<Response><Connect{action_attr}><Stream url="{stream_url}">{params}</Stream></Connect></Response>'
