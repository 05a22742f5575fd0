"""The local phone network of one account: its numbers, its calls and the parties who answer them.

:class:`PhoneNetwork` runs on one asyncio event loop and is driven by the REST layer
(:mod:`.rest`), by :class:`~callingbox.local.carrier.server.LocalCarrier`, or standalone by the
``callingbox phone ring --interactive`` command (which plays an inbound caller from its own process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from .callees import DEFAULT_CALLER_LINES, CalleeDirectory, CalleeScript, is_e164
from .parties import HumanParty, Party, VoicemailParty
from .records import CallRecord, NumberRecord, new_sid, utc_now
from .simulation import CallSimulation, TwimlSource
from .speech import Voice
from .timing import Timing
from .webhooks import Webhooks

if TYPE_CHECKING:  # pragma: no cover
    import aiohttp

__all__ = ["PhoneNetwork", "NumberNotFound"]

logger = logging.getLogger(__name__)

_SHUTDOWN_GRACE_S = 3.0


class NumberNotFound(LookupError):
    """The account owns no IncomingPhoneNumber for the number rung."""


class PhoneNetwork:
    """Calls and numbers of one Twilio account, simulated (see :mod:`callingbox.local.carrier`).

    ``on_change(call)`` is called (on the loop's thread) after every status change of a call.
    """

    def __init__(self, account_sid: str, auth_token: str, *, timing: Optional[Timing] = None,
                 callees: Optional[CalleeDirectory] = None,
                 on_change: Optional[Callable[[CallRecord], None]] = None) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.timing = timing or Timing()
        self.callees = callees or CalleeDirectory()
        self.calls: dict[str, CallRecord] = {}
        self.numbers: dict[str, NumberRecord] = {}
        self.voice = Voice()
        self._on_change = on_change
        self._simulations: dict[str, CallSimulation] = {}
        self._session: Optional["aiohttp.ClientSession"] = None
        self._webhooks: Optional[Webhooks] = None
        self.platform_number_fields: dict[str, Any] = {}
        """Where calls to numbers the account does not own go (``voice_url``, ``status_callback``).

        The local stack sets this to its own voice webhook: numbers imported into the platform are
        only records there (the local network has no real numbers to adopt), so the local network
        routes every number it does not hold to the platform, which looks the number up itself.
        """

    # Lifecycle

    async def start(self) -> None:
        """Open the HTTP client the network's webhooks use (call on the network's loop)."""
        import aiohttp

        # Proxies never apply: applications and the gateway are on this machine.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256), trust_env=False)
        self._webhooks = Webhooks(self._session, self.auth_token, timeout_s=self.timing.webhook_timeout_s)

    async def aclose(self) -> None:
        """Hang up every live call (streams get ``stop``), then close the HTTP client."""
        for simulation in list(self._simulations.values()):
            simulation.request_end("completed", by="shutdown")
        tasks = [sim.task for sim in self._simulations.values() if sim.task is not None and not sim.task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=_SHUTDOWN_GRACE_S)
        if self._session is not None:
            await self._session.close()

    @property
    def webhooks(self) -> Webhooks:
        if self._webhooks is None:
            raise RuntimeError("PhoneNetwork.start() was not awaited")
        return self._webhooks

    # Calls

    def new_call(self, *, to: str, from_: str, direction: str, options: Optional[dict[str, Any]] = None,
                 parent_call_sid: Optional[str] = None, phone_number_sid: Optional[str] = None) -> CallRecord:
        """Register a call record (no simulation)."""
        call = CallRecord(sid=new_sid("CA"), account_sid=self.account_sid, to=to, from_=from_, direction=direction,
                          options=dict(options or {}), parent_call_sid=parent_call_sid,
                          phone_number_sid=phone_number_sid)
        call.status = "ringing" if direction == "inbound" else "queued"
        call.status_history.append((time.monotonic(), call.status))
        call.log("status", status=call.status)
        self.calls[call.sid] = call
        return call

    def set_status(self, call: CallRecord, status: str) -> None:
        """Move ``call`` to ``status`` (recorded, and reported to ``on_change``)."""
        if call.status == status:
            return
        call.status = status
        call.date_updated = utc_now()
        call.status_history.append((time.monotonic(), status))
        call.log("status", status=status)
        if self._on_change is not None:
            try:
                self._on_change(call)
            except Exception:
                logger.exception("on_change observer failed")

    def place_call(self, *, to: str, from_: str, options: dict[str, Any], source: TwimlSource) -> CallRecord:
        """An outbound API call (``Calls.json`` POST): returns the queued record, simulation started."""
        owned = self.number_for(from_)
        call = self.new_call(to=to, from_=from_, direction="outbound-api", options=options,
                             phone_number_sid=owned.sid if owned else None)
        script = self.callees.lookup(to)
        self._start(CallSimulation(self, call, self.party_for(script), script, source=source))
        return call

    def ring(self, to: str, from_: str, *, lines: Optional[Sequence[str]] = None, party: Optional[Party] = None,
             number: Optional[NumberRecord] = None) -> CallRecord:
        """An inbound call from ``from_`` to the account's number ``to``; returns the ringing record.

        The caller says ``lines`` (default :data:`DEFAULT_CALLER_LINES`) after the agent speaks, or is
        ``party`` (the interactive caller). ``number`` gives the number's settings when this network
        does not own it (standalone use). Raises :class:`NumberNotFound` and ``ValueError``.
        """
        if not is_e164(to) or not is_e164(from_):
            raise ValueError("to and from must be E.164 numbers such as +14155550100")
        number = number or self.number_for(to)
        if number is None and self.platform_number_fields:
            number = NumberRecord(sid=new_sid("PN"), phone_number=to, account_sid=self.account_sid,
                                  fields=dict(self.platform_number_fields))
        if number is None:
            raise NumberNotFound(f"no IncomingPhoneNumber {to} in account {self.account_sid}")
        script = CalleeScript(behaviour="human", lines=tuple(DEFAULT_CALLER_LINES if lines is None else lines),
                              speaks_first=False)
        call = self.new_call(to=to, from_=from_, direction="inbound", phone_number_sid=number.sid)
        party = party or HumanParty(script, self.voice, self.timing)
        self._start(CallSimulation(self, call, party, script, number=number))
        return call

    def end_call(self, sid: str, status: str) -> bool:
        """REST ``Status=completed|canceled``; False when the call is over or the request does not apply."""
        simulation = self._simulations.get(sid)
        return simulation is not None and simulation.request_end(status)

    def redirect(self, sid: str, source: TwimlSource) -> bool:
        """REST ``Twiml``/``Url`` update; False when the call is over."""
        simulation = self._simulations.get(sid)
        return simulation is not None and simulation.request_redirect(source)

    def simulation(self, sid: str) -> Optional[CallSimulation]:
        return self._simulations.get(sid)

    def party_for(self, script: CalleeScript) -> Party:
        if script.behaviour == "voicemail":
            return VoicemailParty(script, self.voice, self.timing)
        return HumanParty(script, self.voice, self.timing)

    def _start(self, simulation: CallSimulation) -> None:
        self._simulations[simulation.call.sid] = simulation
        task = simulation.start()
        task.add_done_callback(lambda _: self._simulations.pop(simulation.call.sid, None))

    # Numbers

    def number_for(self, phone_number: str) -> Optional[NumberRecord]:
        """The account's IncomingPhoneNumber for ``phone_number``, if owned."""
        for number in self.numbers.values():
            if number.phone_number == phone_number:
                return number
        return None

    def add_number(self, phone_number: str, *, sid: Optional[str] = None, **fields: Any) -> NumberRecord:
        """Own ``phone_number`` (``fields`` use the resource's JSON names: voice_url, status_callback…)."""
        if not is_e164(phone_number):
            raise ValueError(f"not an E.164 number: {phone_number!r}")
        if self.number_for(phone_number) is not None:
            raise ValueError(f"{phone_number} is already owned")
        number = NumberRecord(sid=sid or new_sid("PN"), phone_number=phone_number, account_sid=self.account_sid,
                              fields={key: value for key, value in fields.items() if value is not None})
        self.numbers[number.sid] = number
        return number
