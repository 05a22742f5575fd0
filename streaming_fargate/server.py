"""The voice gateway's websocket server: Twilio Media Streams in, one :class:`Conversation` per stream.

* ``GET /healthz`` answers 200 (503 while draining) without a websocket.
* ``GET /prewarm?token=<stream token>`` (202) synthesizes the call's greeting ahead of the answer,
  so that it plays the moment the stream starts; the dialer can call it while the phone rings.
* Any other path upgrades to a websocket and waits for ``start``. Its ``customParameters`` must
  carry ``token``, a stream token (:mod:`callingbox.core.stream_tokens`) signed with
  ``CALLINGBOX_STREAM_TOKEN_SECRET``: a missing, forged or expired token, an unknown call or one
  that has already ended closes the socket with 1008 (policy violation) before anything else is
  loaded.
* ``customParameters.mode``: absent (or ``conversation``) runs the conversation; ``voicemail`` leaves
  the agent's ``voicemail_message`` and hangs up (:mod:`streaming_fargate.voicemail`: the carrier
  webhook redirects a call there when a machine answered); any other value is refused with 1008.
* SIGTERM (or :meth:`Gateway.drain`) stops accepting streams and lets live calls go on for up to
  the drain time; calls still running then end as ``failed`` (``error:gateway_shutdown``).
* From :meth:`Gateway.start` until the drain ends, the live-call count is published as the
  ``ActiveCalls`` metric (service ``callingbox-gateway``) on start and every
  ``metrics_interval_seconds``: the deployment's autoscaling tracks its average per task.

Everything blocking (the call lookup) runs in a thread; malformed messages are skipped; a stream
that drops leaves no task behind (each conversation cancels and awaits its own, bounded).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import signal
import sys
import threading
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qs

from callingbox.core.call_states import CallStatus, is_terminal
from callingbox.core.clock import now_s
from callingbox.core.errors import NotFound
from callingbox.core.media.protocol import Start, parse
from callingbox.core.observability import ACTIVE_CALLS_METRIC, emit_metric, get_logger, service_name
from callingbox.core.settings import Settings
from callingbox.core.stream_tokens import InvalidStreamToken, StreamClaims, verify_stream_token

from .conversation import CallStore, Conversation, DynamoCallStore
from .pipeline import cancel_and_wait
from .processors.first_message import GreetingCache
from .settings import GatewaySettings
from .tools import ToolRunner
from .voicemail import VOICEMAIL_MODE, VoicemailConversation, awaits_voicemail

__all__ = ["Gateway", "EngineFactory", "default_engine_factory", "tune_runtime", "START_TIMEOUT_S",
           "MAX_MESSAGE_BYTES", "GIL_SWITCH_INTERVAL_S"]

EngineFactory = Callable[[Mapping[str, Any]], Any]
"""``snapshot -> engines`` (an object with ``stt``, ``llm`` and ``tts``)."""

# A new stream must send ``start`` within this (Twilio sends it right after ``connected``).
START_TIMEOUT_S = 10.0
# A Media Streams message is about 400 bytes (20 ms of base64 audio in JSON); far larger is abuse.
MAX_MESSAGE_BYTES = 64 * 1024
# Our closing handshake waits this long for the other side before dropping the connection.
CLOSE_TIMEOUT_S = 2.0
# After the drain time, calls still running get this long to write their final state.
ABORT_GRACE_S = 10.0
CLOSE_POLICY_VIOLATION = 1008
# The stream parameter ``mode`` when it is absent: the normal conversation.
CONVERSATION_MODE = "conversation"
CLOSE_INTERNAL_ERROR = 1011
# Blocking store calls run in threads. With the default 5 ms switch interval a thread holding the
# GIL keeps the event loop (every call's audio) waiting up to 5 ms each time; at 150 calls on one
# core that cost tens of ms at p99 and a sixth of the CPU (GIL convoys). 0.5 ms hands it back
# promptly (gateway_capacity).
GIL_SWITCH_INTERVAL_S = 0.0005


def tune_runtime() -> None:
    """Process settings for serving many calls; call once at start-up, after the imports.

    The start-up heap (modules, settings) is frozen out of the garbage collector, so its passes
    only walk the calls' own objects. (Raising the collection thresholds was measured too: rarer
    but far longer pauses, 28 ms instead of under 10, so CPython's defaults stay.)
    """
    gc.freeze()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def _shared_client(module: str, factory: str, settings: Settings) -> Callable[[], Any]:
    """One AWS client per process for every call, built on first use by the engine module's factory."""
    lock = threading.Lock()
    made: list[Any] = []

    def build() -> Any:
        with lock:
            if not made:
                made.append(getattr(importlib.import_module(f"{__package__}.engines.{module}"), factory)(settings)())
            return made[0]

    return build


def default_engine_factory(settings: Settings) -> EngineFactory:
    """Engines from each call's snapshot (:func:`streaming_fargate.engines.factory.build_engines`),
    with AWS clients shared by all calls of this process."""
    from .engines.factory import AwsClients, build_engines

    clients = AwsClients(
        transcribe=_shared_client("transcribe", "transcribe_client_factory", settings),
        bedrock_runtime=_shared_client("bedrock", "bedrock_client_factory", settings),
        polly=_shared_client("polly", "polly_client_factory", settings),
    )
    return lambda snapshot: build_engines(snapshot, settings=settings, aws_clients=clients)


class Gateway:
    """The websocket server and everything its calls share (engines, greeting cache, HTTP client).

    Parameters
    ----------
    settings:
        Host, port, drain time, secrets, turn-taking windows.
    engines:
        ``snapshot -> engines``; :func:`default_engine_factory` when omitted.
    store:
        Call persistence; :class:`~streaming_fargate.conversation.DynamoCallStore` when omitted.
    """

    def __init__(self, settings: GatewaySettings, *, engines: Optional[EngineFactory] = None,
                 store: Optional[CallStore] = None, greetings: Optional[GreetingCache] = None) -> None:
        self.settings = settings
        self._engines = engines or default_engine_factory(settings.core)
        self.store: CallStore = store or DynamoCallStore(settings.core)
        self.greetings = greetings or GreetingCache()
        self.draining = False
        self.stopped = asyncio.Event()
        self.port: Optional[int] = None
        self._server: Any = None
        self._streams: dict[asyncio.Task[Any], Optional[Conversation]] = {}  # handler -> its call, once known
        self._background: set[asyncio.Task[Any]] = set()
        self._drain_task: Optional[asyncio.Task[None]] = None
        self._http: Any = None
        self._log = get_logger("gateway")

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on the configured host and port (port 0 picks a free one: see :attr:`port`)."""
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle, self.settings.host, self.settings.port, process_request=self._process_request,
            compression=None, max_size=MAX_MESSAGE_BYTES, close_timeout=CLOSE_TIMEOUT_S,
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        self._log.info("voice gateway listening", extra={"host": self.settings.host, "port": self.port})
        # 0 turns publication off: the local stack has no CloudWatch to read the EMF lines, and
        # they would interleave with what the developer's own programs print.
        if self.settings.metrics_interval_seconds > 0:
            self._spawn(self._publish_active_calls(), "active-calls-metric")

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT has drained the server."""
        await self.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_drain)
        try:
            await self.stopped.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    def request_drain(self) -> None:
        """Start draining (the SIGTERM handler); idempotent."""
        if self._drain_task is None:
            self._log.info("draining: no new streams", extra={"live_calls": len(self.conversations)})
            self._drain_task = asyncio.get_running_loop().create_task(self.drain(), name="gateway-drain")

    async def drain(self, timeout: Optional[float] = None) -> None:
        """Stop accepting streams, let live calls finish for ``timeout`` (the drain time), then end them."""
        self.draining = True
        if self._server is not None:
            self._server.close(close_connections=False)
        live = set(self._streams)
        if live:
            _, pending = await asyncio.wait(live, timeout=self.settings.drain_seconds if timeout is None else timeout)
            if pending:
                self._log.warning("drain time over: ending live calls", extra={"live_calls": len(pending)})
                for handler in pending:
                    conversation = self._streams.get(handler)
                    if conversation is not None:
                        conversation.abort("error:gateway_shutdown")
                    else:
                        handler.cancel()  # still waiting for ``start``: nothing to save
                await asyncio.wait(pending, timeout=ABORT_GRACE_S)
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), ABORT_GRACE_S)
            except asyncio.TimeoutError:
                self._log.error("streams still open after the drain; exiting anyway",
                                extra={"open_streams": len(self._streams)})
        for task in list(self._background):
            await cancel_and_wait(task)
        await self.greetings.aclose()
        if self._http is not None:
            await self._http.aclose()
        self.stopped.set()
        self._log.info("voice gateway stopped")

    def publish_active_calls(self) -> int:
        """Publish the live-call count (the ``ActiveCalls`` metric) now; returns it."""
        count = len(self.conversations)
        try:
            emit_metric(ACTIVE_CALLS_METRIC, count, service=service_name("gateway"))
        except Exception as error:  # noqa: BLE001 - telemetry never breaks the server
            self._log.warning("ActiveCalls not published", extra={"error": repr(error)})
        return count

    async def _publish_active_calls(self) -> None:
        # Until the drain cancels it (with the other background tasks); a draining task still
        # reports its remaining calls.
        while True:
            self.publish_active_calls()
            await asyncio.sleep(self.settings.metrics_interval_seconds)

    @property
    def open_streams(self) -> int:
        """Websocket streams being handled now (calls, and streams still waiting for ``start``)."""
        return len(self._streams)

    @property
    def conversations(self) -> list[Conversation]:
        """The calls running now."""
        return [conversation for conversation in self._streams.values() if conversation is not None]

    # -- HTTP side -----------------------------------------------------------------------------

    def _process_request(self, connection: Any, request: Any) -> Any:
        path, _, query = request.path.partition("?")
        if path == "/healthz":
            return connection.respond(503, "draining\n") if self.draining else connection.respond(200, "ok\n")
        if path == "/prewarm":
            token = (parse_qs(query).get("token") or [""])[0]
            try:
                claims = self._verify(token)
            except InvalidStreamToken:
                return connection.respond(403, "invalid stream token\n")
            self._spawn(self._prewarm_call(claims), f"prewarm:{claims.call_id}")
            return connection.respond(202, "prewarming\n")
        if self.draining:
            return connection.respond(503, "draining\n")
        return None

    def prewarm(self, snapshot: Mapping[str, Any]) -> None:
        """Start synthesizing the snapshot's greeting into the cache (nothing without ``first_message``)."""
        key = GreetingCache.key(snapshot, voice=str(snapshot.get("voice") or self.settings.core.default_voice))
        if key is not None:
            self.greetings.prewarm(key, self._engines(snapshot).tts)

    async def _prewarm_call(self, claims: StreamClaims) -> None:
        try:
            doc = await asyncio.to_thread(self.store.get_call, claims.workspace_id, claims.call_id)
            self.prewarm(doc.get("agent_snapshot") or {})
        except Exception as error:  # noqa: BLE001 - prewarming is an optimisation; the call synthesizes later
            self._log.warning("prewarm failed", extra={"call_id": claims.call_id, "error": repr(error)})

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _verify(self, token: str) -> StreamClaims:
        if not self.settings.stream_token_secret:
            raise InvalidStreamToken("the gateway has no stream token secret")
        return verify_stream_token(self.settings.stream_token_secret, token)

    # -- one stream ----------------------------------------------------------------------------

    async def _handle(self, websocket: Any) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._streams[handler] = None
        try:
            await self._run_stream(websocket, handler)
        except Exception as error:  # noqa: BLE001 - one broken stream never takes the server down
            self._log.exception("stream handler failed", extra={"error": repr(error)})
            await websocket.close(CLOSE_INTERNAL_ERROR)
        finally:
            del self._streams[handler]

    async def _run_stream(self, websocket: Any, handler: asyncio.Task[Any]) -> None:
        start = await self._wait_for_start(websocket)
        if start is None:
            return
        try:
            claims = self._verify(start.custom_parameters.get("token", ""))
        except InvalidStreamToken as error:
            self._log.warning("stream refused", extra={"reason": str(error), "stream_sid": start.stream_sid})
            await websocket.close(CLOSE_POLICY_VIOLATION, "invalid stream token")
            return
        try:
            call = await asyncio.to_thread(self.store.get_call, claims.workspace_id, claims.call_id)
        except NotFound:
            await websocket.close(CLOSE_POLICY_VIOLATION, "unknown call")
            return
        mode = start.custom_parameters.get("mode") or CONVERSATION_MODE
        if is_terminal(call["status"]) and not (mode == VOICEMAIL_MODE and awaits_voicemail(call)):
            self._log.warning("stream refused: call already ended", extra={"call_id": claims.call_id,
                                                                           "status": call["status"]})
            await websocket.close(CLOSE_POLICY_VIOLATION, "call already ended")
            return
        if mode not in (CONVERSATION_MODE, VOICEMAIL_MODE):
            self._log.warning("stream refused: unknown mode", extra={"call_id": claims.call_id, "mode": mode[:40]})
            await websocket.close(CLOSE_POLICY_VIOLATION, "unknown stream mode")
            return
        snapshot = call.get("agent_snapshot") or {}
        try:
            engines = self._engines(snapshot)
        except Exception as error:  # noqa: BLE001 - e.g. a model this deployment cannot route
            await self._refuse_engines(claims, error)
            await websocket.close(CLOSE_INTERNAL_ERROR, "engines unavailable")
            return
        kind = VoicemailConversation if mode == VOICEMAIL_MODE else Conversation
        conversation = kind(settings=self.settings, store=self.store, engines=engines, greetings=self.greetings,
                            websocket=websocket, start=start, workspace_id=claims.workspace_id, call=call,
                            tools=self._tool_runner(snapshot) if kind is Conversation else None)
        self._streams[handler] = conversation
        await conversation.run()

    async def _refuse_engines(self, claims: StreamClaims, error: Exception) -> None:
        self._log.error("no engines for the call", extra={"call_id": claims.call_id, "error": repr(error)})
        try:
            await asyncio.to_thread(self.store.transition, claims.workspace_id, claims.call_id, CallStatus.FAILED,
                                    end_reason="error:engines_unavailable", ended_at=now_s())
        except Exception as write_error:  # noqa: BLE001 - the sweeper ends it otherwise
            self._log.error("call not marked failed", extra={"call_id": claims.call_id, "error": repr(write_error)})

    async def _wait_for_start(self, websocket: Any) -> Optional[Start]:
        """The ``start`` message (``connected`` and malformed messages before it are skipped)."""
        from websockets.exceptions import ConnectionClosed

        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                async for raw in websocket:
                    try:
                        message = parse(raw)
                    except (ValueError, TypeError, AttributeError):  # ProtocolError, or a mistyped field
                        continue
                    if isinstance(message, Start):
                        return message
        except TimeoutError:
            await websocket.close(CLOSE_POLICY_VIOLATION, "no start message")
        except ConnectionClosed:
            pass
        return None

    def _tool_runner(self, snapshot: Mapping[str, Any]) -> Optional[ToolRunner]:
        url = snapshot.get("tool_url")
        if not url:
            return None
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(trust_env=False)
        return ToolRunner(str(url), secret=self.settings.tool_signing_secret, client=self._http,
                          allow_insecure=self.settings.core.allow_insecure_urls,
                          timeout_s=self.settings.tool_timeout_seconds)
