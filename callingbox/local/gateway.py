"""The voice gateway and the sweeper inside the local stack.

The gateway is the same :class:`streaming_fargate.server.Gateway` that runs on Fargate, served on
loopback from a thread with its own event loop (local engines: offline STT/TTS and the builtin
dialogue unless the agent routes elsewhere). The sweeper is the scheduled job of the deployment,
run here every :data:`SWEEP_INTERVAL_S` from a daemon thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["LocalGateway", "start_local_gateway", "Sweeper", "start_sweeper", "SWEEP_INTERVAL_S"]

# The deployed schedule runs once a minute; locally a shorter period makes a crashed call visible
# sooner while costing one index query per period.
SWEEP_INTERVAL_S = 15.0
# How long the gateway's start-up may take (binding the port; engines load per call).
START_TIMEOUT_S = 30.0


@dataclass
class LocalGateway:
    """A running gateway: its websocket URL and how to stop it."""

    url: str
    port: int
    gateway: Any
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def stop(self, drain_s: float = 5.0) -> None:
        """Drain live calls for up to ``drain_s`` seconds, then stop the loop."""
        if self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self.gateway.drain(drain_s), self.loop)
            try:
                future.result(timeout=drain_s + 15)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        self.thread.join(timeout=5)


def start_local_gateway(environment: Mapping[str, str], host: str = "127.0.0.1", port: int = 0) -> LocalGateway:
    """Start the gateway from ``environment`` (the stack's ``CALLINGBOX_*`` values) on ``host:port``."""
    from streaming_fargate.server import Gateway
    from streaming_fargate.settings import GatewaySettings

    # No ActiveCalls EMF lines on stdout: nothing scales on them here (an explicit value still wins).
    env = {"CALLINGBOX_METRICS_INTERVAL_SECONDS": "0", **environment,
           "CALLINGBOX_GATEWAY_HOST": host, "CALLINGBOX_GATEWAY_PORT": str(port)}
    settings = GatewaySettings.from_env(env)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        holder["loop"] = loop

        async def main() -> None:
            gateway = Gateway(settings)
            holder["gateway"] = gateway
            try:
                await gateway.start()
            except BaseException as error:  # noqa: BLE001 - reported to the starting thread
                holder["error"] = error
                ready.set()
                return
            ready.set()
            await gateway.stopped.wait()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="voice-gateway", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S):
        raise RuntimeError("the voice gateway did not start in time")
    if "error" in holder:
        raise holder["error"]
    gateway = holder["gateway"]
    return LocalGateway(f"ws://{host}:{gateway.port}/stream", gateway.port, gateway, holder["loop"], thread)


@dataclass
class Sweeper:
    """The periodic sweep of calls whose gateway heartbeat stopped."""

    stopped: threading.Event
    thread: threading.Thread

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def start_sweeper(settings: Any, interval_s: float = SWEEP_INTERVAL_S) -> Sweeper:
    """Run the sweeper worker's sweep (:func:`workers.sweeper.sweep_and_announce`) every ``interval_s``."""
    from ..core.observability import get_logger
    from .workers import load_handler

    load_handler("sweeper")  # puts functions/ on sys.path, as Lambda loads it
    from workers.sweeper import sweep_and_announce  # type: ignore[import-not-found]

    log = get_logger("sweeper")
    stopped = threading.Event()

    def run() -> None:
        while not stopped.wait(interval_s):
            try:
                sweep_and_announce(settings, time.time())
            except Exception as error:  # noqa: BLE001 - the next period tries again
                log.error("sweep failed", extra={"error": repr(error)})

    thread = threading.Thread(target=run, name="sweeper", daemon=True)
    thread.start()
    return Sweeper(stopped, thread)
