"""The local carrier as a running server: its own thread, its own event loop, a loopback port.

:func:`start_local_carrier` is the entry point for the local stack and the tests; the returned
:class:`LocalCarrier` is thread-safe to call from the starting thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Awaitable, Collection, Optional, Sequence, TypeVar, Union

from .callees import CalleeDirectory, CalleeScript
from .network import PhoneNetwork
from .records import TERMINAL_STATUSES, CallRecord, NumberRecord
from .timing import Timing

__all__ = ["LocalCarrier", "start_local_carrier"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STARTUP_TIMEOUT_S = 15.0
_BACKLOG = 512


class LocalCarrier:
    """A running local Twilio stand-in (see :mod:`callingbox.local.carrier`).

    Attributes
    ----------
    api_url:
        Base URL of the REST API (``http://127.0.0.1:PORT``); the Twilio SDK's requests to
        ``https://api.twilio.com/2010-04-01/...`` go to ``api_url + "/2010-04-01/..."``.
    calls:
        Every call leg by sid: status history, event log, what the far end said and heard.
    numbers:
        The account's IncomingPhoneNumbers by sid.
    """

    def __init__(self, network: PhoneNetwork, loop: asyncio.AbstractEventLoop, thread: threading.Thread,
                 api_url: str, runner: Any) -> None:
        self.network = network
        self.api_url = api_url
        self._loop = loop
        self._thread = thread
        self._runner = runner
        self._changed = threading.Condition()
        self._stopped = False

    # Properties

    @property
    def account_sid(self) -> str:
        return self.network.account_sid

    @property
    def auth_token(self) -> str:
        return self.network.auth_token

    @property
    def calls(self) -> dict[str, CallRecord]:
        """A snapshot of every call leg by sid (the records themselves are live)."""
        return dict(self.network.calls)  # copied atomically: the loop thread adds calls meanwhile

    @property
    def numbers(self) -> dict[str, NumberRecord]:
        """A snapshot of the account's numbers by sid."""
        return dict(self.network.numbers)

    @property
    def callees(self) -> CalleeDirectory:
        return self.network.callees

    @property
    def environment(self) -> dict[str, str]:
        """The variables that point a Twilio client at this carrier."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "CALLINGBOX_TWILIO_API_URL": self.api_url}

    # Operations

    def run(self, awaitable: Awaitable[T], timeout: Optional[float] = 30.0) -> T:
        """Run a coroutine on the carrier's loop and return its result (from another thread)."""
        return asyncio.run_coroutine_threadsafe(awaitable, self._loop).result(timeout)  # type: ignore[arg-type]

    def call_soon(self, function: Any, *args: Any) -> Any:
        """Call ``function(*args)`` on the carrier's loop and return its result."""
        future: Future[Any] = Future()

        def invoke() -> None:
            try:
                future.set_result(function(*args))
            except BaseException as error:
                future.set_exception(error)

        self._loop.call_soon_threadsafe(invoke)
        return future.result(30)

    def ring(self, to: str, from_: str, *, lines: Optional[Sequence[str]] = None) -> str:
        """Simulate an inbound call from ``from_`` to the account's number ``to``; returns the CallSid.

        The caller speaks ``lines`` after the agent. Raises
        :class:`~callingbox.local.carrier.network.NumberNotFound` when the account does not own ``to``.
        """
        return str(self.call_soon(lambda: self.network.ring(to, from_, lines=lines).sid))

    def route_other_numbers(self, *, voice_url: str, status_callback: Optional[str] = None) -> None:
        """Send inbound calls to numbers the account does not hold to ``voice_url`` (the platform's)."""
        fields = {"voice_url": voice_url, "voice_method": "POST", "status_callback": status_callback,
                  "status_callback_method": "POST"}
        self.call_soon(lambda: self.network.platform_number_fields.update(
            {key: value for key, value in fields.items() if value}))

    def set_callee(self, number: str, *, behaviour: Optional[str] = None, lines: Optional[Sequence[str]] = None,
                   **options: Any) -> CalleeScript:
        """Script who answers ``number`` (as ``POST /local/callees``)."""
        return self.call_soon(lambda: self.network.callees.set(number, behaviour=behaviour, lines=lines, **options))

    def add_number(self, phone_number: str, *, sid: Optional[str] = None, voice_url: Optional[str] = None,
                   voice_method: str = "POST", status_callback: Optional[str] = None,
                   friendly_name: Optional[str] = None) -> NumberRecord:
        """Own ``phone_number`` with this exact ``sid`` (seeding, e.g. the docs' demo numbers)."""
        return self.call_soon(lambda: self.network.add_number(
            phone_number, sid=sid, voice_url=voice_url, voice_method=voice_method,
            status_callback=status_callback, friendly_name=friendly_name))

    def wait_for_call(self, sid: str, status: Union[str, Collection[str], None] = None, timeout: float = 10.0
                      ) -> CallRecord:
        """Wait until call ``sid`` has reached ``status`` (a status, a set of them, or None: any final one).

        A status counts once it appears in the call's history, so waiting for ``ringing`` after the
        call was answered returns at once. Raises ``TimeoutError`` (with the call's history) and
        ``KeyError`` for an unknown sid.
        """
        wanted = set(TERMINAL_STATUSES if status is None else ([status] if isinstance(status, str) else status))
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                call = self.network.calls.get(sid)
                if call is None:
                    raise KeyError(sid)
                if wanted & set(call.statuses):
                    return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"call {sid} did not reach {sorted(wanted)} in {timeout}s: {call.statuses}")
                self._changed.wait(min(remaining, 0.25))

    def stop(self) -> None:
        """Hang up every live call, stop the server and its thread. Idempotent."""
        if self._stopped:
            return
        self._stopped = True

        async def shutdown() -> None:
            await self.network.aclose()
            await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(20)
        except Exception:
            logger.exception("local carrier: shutdown failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _notify(self, call: CallRecord) -> None:
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> "LocalCarrier":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_local_carrier(host: str = "127.0.0.1", port: int = 0, *, account_sid: str, auth_token: str,
                        answer_delay_s: float = 0.3, timing: Optional[Timing] = None) -> LocalCarrier:
    """Start the local carrier in a thread of this process and return once it answers HTTP.

    Parameters
    ----------
    host, port:
        Where the REST API listens (port 0: any free port; read :attr:`LocalCarrier.api_url`).
    account_sid, auth_token:
        The only credentials it accepts; status callbacks and webhooks are signed with ``auth_token``.
    answer_delay_s:
        How long callees ring before answering (benchmarks want near 0).
    timing:
        Every other delay (:class:`~callingbox.local.carrier.timing.Timing`); its ``answer_delay_s``
        is replaced by the argument.
    """
    from dataclasses import replace

    from aiohttp import web

    from .rest import build_app

    timing = replace(timing or Timing(), answer_delay_s=answer_delay_s)
    loop = asyncio.new_event_loop()
    ready: Future[tuple[PhoneNetwork, Any, str]] = Future()
    holder: dict[str, LocalCarrier] = {}

    def on_change(call: CallRecord) -> None:
        carrier = holder.get("carrier")
        if carrier is not None:
            carrier._notify(call)

    async def setup() -> tuple[PhoneNetwork, Any, str]:
        network = PhoneNetwork(account_sid, auth_token, timing=timing, on_change=on_change)
        await network.start()
        runner = web.AppRunner(build_app(network), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=_BACKLOG)
        await site.start()
        bound_port = runner.addresses[0][1]
        return network, runner, f"http://{host}:{bound_port}"

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            ready.set_result(loop.run_until_complete(setup()))
        except BaseException as error:
            ready.set_exception(error)
            return
        try:
            loop.run_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name="local-carrier", daemon=True)
    thread.start()
    network, runner, api_url = ready.result(_STARTUP_TIMEOUT_S)
    carrier = LocalCarrier(network, loop, thread, api_url, runner)
    holder["carrier"] = carrier
    return carrier
