"""Inbound calls from another process: through a running carrier, or played from this process.

* :func:`ring_through_carrier` asks a running local carrier (``POST /local/ring``) to ring a number
  and follows the call over the REST API until it ends.
* :func:`call_interactively` plays the caller itself, as Twilio would: it signs and POSTs the
  number's voice webhook, obeys the TwiML, opens the media stream it names and says each line it
  is given. It needs only the carrier's REST URL and credentials (to read the number's voice URL),
  or just a voice URL, so it works against any Twilio-compatible stack.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any, AsyncIterable, Callable, Iterable, Optional, Sequence, Union

from .callees import is_e164
from .network import NumberNotFound, PhoneNetwork
from .parties import InteractiveParty
from .records import TERMINAL_STATUSES, CallRecord, NumberRecord, new_sid
from .resources import API_VERSION
from .timing import Timing

__all__ = ["CarrierRequestError", "ring_through_carrier", "call_interactively", "find_number"]

_POLL_S = 0.25


class CarrierRequestError(RuntimeError):
    """The carrier refused a request (``status``, Twilio ``code``) or could not be reached (status 0)."""

    def __init__(self, message: str, *, status: int = 0, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _raise_for(response: Any) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    raise CarrierRequestError(str(body.get("message") or response.text or response.status_code),
                              status=response.status_code, code=body.get("code"))


def ring_through_carrier(api_url: str, account_sid: str, auth_token: str, to: str, from_: str, *,
                         lines: Optional[Sequence[str]] = None, wait_s: float = 300.0,
                         on_status: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Ring ``to`` from ``from_`` through the carrier at ``api_url``; the Call resource once it ended.

    ``on_status`` sees each new status (the first is ``ringing``). Raises :class:`CarrierRequestError`
    and ``TimeoutError`` (after ``wait_s``, the call still live).
    """
    import httpx

    body: dict[str, Any] = {"to": to, "from": from_}
    if lines is not None:
        body["lines"] = list(lines)
    with httpx.Client(base_url=api_url.rstrip("/"), auth=(account_sid, auth_token), timeout=30,
                      trust_env=False) as http:
        try:
            response = http.post("/local/ring", json=body)
            _raise_for(response)
            call = response.json()
            path = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{call['sid']}.json"
            seen = None
            deadline = time.monotonic() + wait_s
            while True:
                if call["status"] != seen:
                    seen = call["status"]
                    if on_status is not None:
                        on_status(seen)
                if call["status"] in TERMINAL_STATUSES:
                    return call
                if time.monotonic() > deadline:
                    raise TimeoutError(f"call {call['sid']} still {call['status']} after {wait_s:.0f}s")
                time.sleep(_POLL_S)
                response = http.get(path)
                _raise_for(response)
                call = response.json()
        except httpx.HTTPError as error:
            raise CarrierRequestError(f"cannot reach the local carrier at {api_url}: {error}") from None


async def find_number(api_url: str, account_sid: str, auth_token: str, phone_number: str) -> Optional[NumberRecord]:
    """The IncomingPhoneNumber ``phone_number`` of the account at ``api_url`` (None when not owned)."""
    import aiohttp

    token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    url = f"{api_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers.json"
    try:
        async with aiohttp.ClientSession(trust_env=False) as session:
            async with session.get(url, params={"PhoneNumber": phone_number},
                                   headers={"Authorization": f"Basic {token}"},
                                   timeout=aiohttp.ClientTimeout(total=15)) as response:
                body = await response.json(content_type=None)
                if response.status >= 400:
                    raise CarrierRequestError(str(body.get("message")), status=response.status, code=body.get("code"))
    except aiohttp.ClientError as error:
        raise CarrierRequestError(f"cannot reach the carrier at {api_url}: {error}") from None
    for item in body.get("incoming_phone_numbers", []):
        if item.get("phone_number") == phone_number:
            fields = {key: item.get(key) for key in ("voice_url", "voice_method", "status_callback",
                                                     "status_callback_method", "friendly_name")}
            return NumberRecord(sid=item["sid"], phone_number=phone_number, account_sid=account_sid,
                                fields={key: value for key, value in fields.items() if value})
    return None


async def call_interactively(to: str, from_: str, *, account_sid: str, auth_token: str,
                             lines: Union[Iterable[str], AsyncIterable[str]],
                             api_url: Optional[str] = None, voice_url: Optional[str] = None,
                             timing: Optional[Timing] = None,
                             on_agent: Optional[Callable[[bool], None]] = None,
                             on_status: Optional[Callable[[str], None]] = None) -> CallRecord:
    """Call ``to`` from ``from_`` playing the caller in this process; the call record once it ended.

    The number's voice URL and status callback come from the carrier at ``api_url`` (its
    IncomingPhoneNumber); ``voice_url`` is the fallback when the number is not found there (or no
    carrier is given). Each item of ``lines`` is said as it arrives; the end of ``lines`` hangs up.
    ``on_agent(speaking)`` reports the agent starting and stopping; ``on_status`` each call status.
    Raises :class:`NumberNotFound` and :class:`CarrierRequestError`.
    """
    if not is_e164(to) or not is_e164(from_):
        raise ValueError("to and from must be E.164 numbers such as +14155550100")
    number = None
    if api_url:
        try:
            number = await find_number(api_url, account_sid, auth_token, to)
        except CarrierRequestError:
            if not voice_url:
                raise
    if number is None:
        if not voice_url:
            raise NumberNotFound(f"{to} is not a number of account {account_sid} and no voice URL was given")
        number = NumberRecord(sid=new_sid("PN"), phone_number=to, account_sid=account_sid,
                              fields={"voice_url": voice_url})

    def changed(call: CallRecord) -> None:
        if on_status is not None and call.direction == "inbound":
            on_status(call.status)

    network = PhoneNetwork(account_sid, auth_token, timing=timing, on_change=changed)
    await network.start()
    try:
        party = InteractiveParty(network.voice, network.timing, on_agent=on_agent)
        call = network.ring(to, from_, party=party, number=number)
        if on_status is not None:
            on_status(call.status)
        feeder = asyncio.create_task(_feed(lines, party))
        simulation = network.simulation(call.sid)
        try:
            if simulation is not None and simulation.task is not None:
                await simulation.task
        finally:
            feeder.cancel()
        return call
    finally:
        await network.aclose()


async def _feed(lines: Union[Iterable[str], AsyncIterable[str]], party: InteractiveParty) -> None:
    if hasattr(lines, "__aiter__"):
        async for line in lines:  # type: ignore[union-attr]
            party.lines.put_nowait(line)
    else:
        for line in lines:  # type: ignore[union-attr]
            party.lines.put_nowait(line)
    party.lines.put_nowait(None)
