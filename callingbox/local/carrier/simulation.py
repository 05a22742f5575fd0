"""One call's life in the local network: ringing, the answer, TwiML, media streams, callbacks.

:class:`CallSimulation` plays Twilio's side of one call leg, per Twilio's documented behaviour:

* Outbound (``outbound-api``): ``initiated`` at once, then ``ringing`` (or ``busy``/``failed``), then
  the answer after the callee's answer delay, or ``no-answer`` at the ring ``Timeout``. The TwiML
  (``Twiml`` or fetched from ``Url``) runs on the answer; ``TimeLimit`` counts from the answer.
* Inbound: the call rings while the number's ``VoiceUrl`` is fetched; a first verb ``<Reject>``
  ends it unanswered (``busy`` for ``reason="busy"``, else ``no-answer``), anything else answers.
  The number's ``StatusCallback`` gets the ``completed`` event, as Twilio's number-level callback does.
* A fetch that fails or returns a document that is not TwiML is an application error (Twilio's
  11200 / 12100): before the answer the call ``failed``; after it, the call ends ``completed``.
* ``<Connect action>`` is fetched when the gateway closes the stream (not when the callee hangs up
  or a REST update replaced the TwiML); ``<Dial action>`` gets ``DialCallStatus``, ``DialCallSid``
  and ``DialCallDuration``; without an action the next verb runs, and the end of the document hangs up.
* Status callbacks (``StatusCallbackEvent``: initiated, ringing, answered, completed; only
  ``completed`` when none is named) go out signed and in order, numbered from ``SequenceNumber`` 0.
* Asynchronous AMD (``MachineDetection`` + ``AsyncAmd=true``) posts ``AsyncAmdStatusCallback``
  with ``AnsweredBy`` while the TwiML runs; synchronous AMD delays the TwiML until it knows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Optional, Union

from .callees import CalleeScript, is_e164
from .parties import HUNG_UP, Party
from .records import CallRecord, NumberRecord, StreamRecord, new_sid, utc_now
from .twiml import (
    Connect,
    Dial,
    Hangup,
    Pause,
    Play,
    Redirect,
    Reject,
    Say,
    Stream,
    TwimlError,
    Unsupported,
    Verb,
    parse_twiml,
)
from .webhooks import call_parameters, signature_for

if TYPE_CHECKING:  # pragma: no cover
    from .network import PhoneNetwork

__all__ = ["TwimlSource", "CallSimulation", "SIP_RESPONSE"]

logger = logging.getLogger(__name__)

DEFAULT_RING_TIMEOUT_S = 60  # Twilio's default Timeout
MAX_RING_TIMEOUT_S = 600
DEFAULT_TIME_LIMIT_S = 14400  # Twilio's default (4 hours)
SIP_RESPONSE = {"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487", "failed": "500"}
_TEARDOWN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TwimlSource:
    """Where the next TwiML comes from: inline ``twiml``, or ``url`` fetched with ``method`` and ``extra`` params."""

    twiml: Optional[str] = None
    url: Optional[str] = None
    method: str = "POST"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Control:
    """A request from outside the call: end it, or replace its TwiML."""

    kind: str  # "end" | "redirect"
    reason: str = ""
    source: Optional[TwimlSource] = None


@dataclass(frozen=True)
class _Next:
    source: Union[TwimlSource, list[Verb]]


@dataclass(frozen=True)
class _End:
    status: str
    by: str


class CallSimulation:
    """Runs one call leg; see the module docstring for the behaviour."""

    def __init__(self, network: "PhoneNetwork", call: CallRecord, party: Party, script: CalleeScript, *,
                 source: Optional[TwimlSource] = None, number: Optional[NumberRecord] = None) -> None:
        self.network = network
        self.call = call
        self.party = party
        self.script = script
        self.source = source
        self.number = number
        self._control: asyncio.Queue[_Control] = asyncio.Queue()
        self._callbacks: asyncio.Queue[Optional[tuple[str, str, dict[str, str], str]]] = asyncio.Queue()
        self._sequence = 0
        self._finished = False
        self._helpers: list[asyncio.Task[None]] = []
        self.task: Optional[asyncio.Task[None]] = None
        options = call.options
        if number is not None:  # inbound: the number's callback, completed only
            self._status_callback = number.status_callback
            self._callback_method = number.status_callback_method
            self._callback_events = {"completed"}
        else:
            self._status_callback = options.get("StatusCallback") or None
            self._callback_method = (options.get("StatusCallbackMethod") or "POST").upper()
            self._callback_events = set(options.get("StatusCallbackEvent") or ["completed"])

    # Control from outside (REST, shutdown)

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"call:{self.call.sid}")
        return self.task

    def request_end(self, status: str, *, by: str = "api") -> bool:
        """Hang up (``completed``) or cancel (``canceled``) the call, as a REST update does.

        ``canceled`` only affects a call that is queued or ringing; ``completed`` ends any live call
        (a queued or ringing one ends ``canceled``). The record shows the final status at once; the
        simulation then closes the stream and posts the ``completed`` callback. False when ignored.
        """
        call = self.call
        if self._finished or call.terminal:
            return False
        unanswered = call.status in ("queued", "ringing")
        if status == "canceled" and not unanswered:
            return False
        self._mark_terminal("canceled" if unanswered else "completed", by=by)
        self._control.put_nowait(_Control("end", reason=by))
        return True

    def request_redirect(self, source: TwimlSource) -> bool:
        """Replace the TwiML (a running stream gets ``stop`` and closes first). False once ended."""
        if self._finished or self.call.terminal:
            return False
        self._control.put_nowait(_Control("redirect", source=source))
        return True

    # The call

    async def _run(self) -> None:
        call = self.call
        worker = asyncio.get_running_loop().create_task(self._deliver_callbacks(), name=f"callbacks:{call.sid}")
        try:
            if call.direction == "inbound":
                await self._run_inbound()
            else:
                await self._run_outbound()
        except asyncio.CancelledError:
            self._finish("completed" if call.answered_at else "canceled", by="shutdown")
            raise
        except Exception as error:  # a bug must end the call, not leave it ringing forever
            logger.exception("local carrier: call %s crashed", call.sid)
            call.log("error", code=0, message=f"{type(error).__name__}: {error}")
            self._finish("completed" if call.answered_at else "failed", by="error")
        finally:
            self._finish("completed" if call.answered_at else "failed", by="error")
            for helper in self._helpers:
                helper.cancel()
            self._callbacks.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(worker), _TEARDOWN_TIMEOUT_S + 15)
            except (TimeoutError, asyncio.CancelledError):
                worker.cancel()

    async def _run_outbound(self) -> None:
        call, timing, behaviour = self.call, self.network.timing, self.script.behaviour
        if call.terminal:  # canceled while queued: never dialed
            return self._finish(call.status, by="api")
        call.start_time = utc_now()
        call.log("status", status="initiated")
        self._callback("initiated", "initiated")
        if await self._ring_wait(timing.ring_delay_s):
            return self._finish(call.status, by="api")
        if not is_e164(call.to) or behaviour == "failed":
            return self._finish("failed", by="network")
        if behaviour == "busy":
            return self._finish("busy", by="callee")
        self._set_status("ringing")
        self._callback("ringing", "ringing")
        preparing = asyncio.get_running_loop().create_task(self.party.prepare())
        ring_timeout = _seconds(call.options.get("Timeout"), DEFAULT_RING_TIMEOUT_S, MAX_RING_TIMEOUT_S)
        answer_in = self.script.answer_delay_s if self.script.answer_delay_s is not None else timing.answer_delay_s
        answers = behaviour != "no_answer" and answer_in < ring_timeout
        ended = await self._ring_wait(answer_in if answers else ring_timeout)
        if not answers or ended:
            preparing.cancel()
            return self._finish(call.status if ended else "no-answer", by="api" if ended else "callee")
        await preparing
        self._answer()
        if behaviour == "hangup":
            call.log("hangup", by="callee", reason="hangs up on answer")
            return self._finish("completed", by="callee")
        time_limit = _seconds(call.options.get("TimeLimit"), DEFAULT_TIME_LIMIT_S, DEFAULT_TIME_LIMIT_S)
        self._helpers.append(asyncio.get_running_loop().create_task(self._time_limit(time_limit)))
        mode = call.options.get("MachineDetection") or ""
        if mode in ("Enable", "DetectMessageEnd"):
            if str(call.options.get("AsyncAmd", "")).lower() == "true":
                self._helpers.append(asyncio.get_running_loop().create_task(self._amd(mode)))
            else:  # synchronous AMD: the TwiML waits for the result and gets AnsweredBy
                answered_by, after = self.party.amd_result(mode, timing)
                if await self._ring_wait(after):
                    return self._finish(call.status, by="api")
                self._detected(answered_by, after)
        source = self.source or TwimlSource(twiml="<Response/>")
        await self._run_twiml(source)

    async def _run_inbound(self) -> None:
        call, number = self.call, self.number
        assert number is not None
        call.start_time = utc_now()
        self._set_status("ringing")
        preparing = asyncio.get_running_loop().create_task(self.party.prepare())
        try:
            if not number.voice_url:
                call.log("error", code=11200, message="the number has no VoiceUrl")
                return self._finish("failed", by="error")
            verbs = await self._fetch(TwimlSource(url=number.voice_url, method=number.voice_method))
            if verbs is None:
                return self._finish("failed", by="error")
            if self.call.terminal:  # canceled while the webhook ran
                return self._finish(call.status, by="api")
            if verbs and isinstance(verbs[0], Reject):
                call.log("twiml", verb="Reject", reason=verbs[0].reason)
                return self._finish("busy" if verbs[0].reason == "busy" else "no-answer", by="twiml")
            await preparing
        finally:
            preparing.cancel()
        self._answer()
        await self._run_twiml(verbs)

    async def _ring_wait(self, seconds: float) -> bool:
        """Wait out the phone ringing; True when a REST update ended the call meanwhile.

        A redirect before the answer replaces the TwiML that runs on the answer.
        """
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.call.terminal
            try:
                control = await asyncio.wait_for(self._control.get(), remaining)
            except TimeoutError:
                return self.call.terminal
            if control.kind == "redirect":
                self.source = control.source
                continue
            return True

    async def _run_twiml(self, pending: Union[TwimlSource, list[Verb]]) -> None:
        """Run TwiML documents one after another until the call ends, obeying REST updates."""
        loop = asyncio.get_running_loop()
        runner: Optional[asyncio.Task[Union[_Next, _End]]] = None
        try:
            while True:
                runner = loop.create_task(self._execute(pending))
                getter = loop.create_task(self._control.get())
                await asyncio.wait({runner, getter}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    await asyncio.wait({getter})
                control = None if getter.cancelled() else getter.result()
                if control is None:
                    outcome = runner.result()
                    if isinstance(outcome, _Next):
                        pending = outcome.source
                        continue
                    return self._finish(outcome.status, by=outcome.by)
                runner.cancel()  # its cleanup sends the stream's stop and closes it
                await asyncio.wait({runner}, timeout=_TEARDOWN_TIMEOUT_S)
                if control.kind == "redirect" and control.source is not None:
                    self.call.log("redirect", twiml=control.source.twiml, url=control.source.url)
                    pending = control.source
                    continue
                return self._finish(self.call.status, by=control.reason)
        finally:
            if runner is not None and not runner.done():
                runner.cancel()
                await asyncio.wait({runner}, timeout=_TEARDOWN_TIMEOUT_S)

    async def _execute(self, pending: Union[TwimlSource, list[Verb]]) -> Union[_Next, _End]:
        verbs = pending if isinstance(pending, list) else await self._fetch(pending)
        if verbs is None:
            return _End("completed", "error")
        for verb in verbs:
            self.call.log("twiml", verb=type(verb).__name__)
            if isinstance(verb, Connect):
                closed_by = await self._stream(verb.stream) if verb.stream else "gateway"
                if closed_by == "callee":
                    return _End("completed", "callee")
                if verb.action:
                    return _Next(TwimlSource(url=verb.action, method=verb.method))
            elif isinstance(verb, Dial):
                result = await self._dial(verb)
                if verb.action:
                    return _Next(TwimlSource(url=verb.action, method=verb.method, extra=result))
            elif isinstance(verb, (Hangup, Reject)):
                return _End("completed", "twiml")
            elif isinstance(verb, Pause):
                await asyncio.sleep(max(0.0, verb.length_s))
            elif isinstance(verb, Say):
                self.call.log("say", text=verb.text)
                await asyncio.sleep(max(0.5, len(verb.text) * self.network.timing.say_s_per_char) * verb.loop)
            elif isinstance(verb, Play):
                if verb.digits:
                    self.call.log("dtmf", digits=verb.digits)
                await asyncio.sleep(0.1 * len(verb.digits) if verb.digits else 1.0)
            elif isinstance(verb, Redirect):
                return _Next(TwimlSource(url=verb.url, method=verb.method))
            elif isinstance(verb, Unsupported):
                self.call.log("error", code=12100, message=f"<{verb.name}> is not simulated; skipped")
        return _End("completed", "twiml")

    async def _fetch(self, source: TwimlSource) -> Optional[list[Verb]]:
        """The verbs of ``source``; None after an application error (logged on the call)."""
        if source.twiml is not None:
            document = source.twiml
        else:
            assert source.url is not None
            params = {**call_parameters(self.call), **source.extra}
            result = await self.network.webhooks.request(source.url, params, method=source.method)
            self.call.log("webhook", url=source.url, status=result.status, error=result.error)
            if not result.ok:
                self.call.log("error", code=11200, message=f"HTTP retrieval failure ({result.status or result.error})")
                return None
            document = result.body
        try:
            return parse_twiml(document)
        except TwimlError as error:
            self.call.log("error", code=error.code, message=f"Document parse failure: {error}")
            return None

    # Verbs

    async def _stream(self, stream: Stream) -> str:
        """Open the media stream and let the party talk; who ended it: gateway, callee, carrier or error."""
        from callingbox.core.media.client import MediaStreamsClient

        call = self.call
        record = StreamRecord(stream_sid=new_sid("MZ"), url=stream.url, parameters=dict(stream.parameters))
        call.streams.append(record)
        client = MediaStreamsClient(
            stream.url, stream_sid=record.stream_sid, call_sid=call.sid, account_sid=call.account_sid,
            custom_parameters=stream.parameters,
            headers={"X-Twilio-Signature": signature_for(self.network.auth_token, stream.url, {})},
        )
        try:
            await client.connect()
        except Exception as error:  # unreachable gateway, refused upgrade: Twilio moves on (error 31920)
            record.closed_by = "error"
            call.log("error", code=31920, message=f"stream connection failed: {type(error).__name__}: {error}")
            return "error"
        record.client = client
        record.opened_at = time.monotonic()
        call.log("stream", action="opened", stream_sid=record.stream_sid, url=stream.url)
        loop = asyncio.get_running_loop()
        talk = loop.create_task(self.party.converse(client, call, record.stream_sid))
        closed = loop.create_task(client.closed.wait())
        try:
            await asyncio.wait({talk, closed}, return_when=asyncio.FIRST_COMPLETED)
            if talk.done() and not client.closed.is_set():
                if talk.exception() is not None:
                    call.log("error", code=0, message=f"callee failed: {talk.exception()!r}")
                if talk.exception() is not None or talk.result() == HUNG_UP:
                    record.closed_by = "callee"
                    await client.hangup()
                    return "callee"
                await closed
            record.closed_by = record.closed_by or "gateway"
            return record.closed_by
        finally:
            talk.cancel()
            closed.cancel()
            if not client.closed.is_set():  # the carrier ended it: REST update, time limit, shutdown
                record.closed_by = record.closed_by or "carrier"
                try:
                    await asyncio.wait_for(client.hangup(), _TEARDOWN_TIMEOUT_S)
                except Exception:
                    logger.debug("stream %s: hangup failed", record.stream_sid, exc_info=True)
            call.log("stream", action="closed", stream_sid=record.stream_sid, by=record.closed_by)

    async def _dial(self, dial: Dial) -> dict[str, str]:
        """Bridge to ``dial.number`` as the network would; the ``<Dial action>`` parameters."""
        timing = self.network.timing
        call = self.call
        leg = self.network.new_call(to=dial.number, from_=dial.caller_id or call.from_, direction="outbound-dial",
                                    parent_call_sid=call.sid)
        script = self.network.callees.lookup(dial.number)
        leg.start_time = utc_now()
        call.log("dial", number=dial.number, dial_call_sid=leg.sid)
        status: Optional[str] = None
        try:
            await asyncio.sleep(timing.ring_delay_s)
            if not is_e164(dial.number) or script.behaviour == "failed":
                status = "failed"
            elif script.behaviour == "busy":
                status = "busy"
            else:
                self.network.set_status(leg, "ringing")
                answer_in = script.answer_delay_s if script.answer_delay_s is not None else timing.answer_delay_s
                if script.behaviour == "no_answer" or answer_in >= dial.timeout_s:
                    await asyncio.sleep(dial.timeout_s)
                    status = "no-answer"
                else:
                    await asyncio.sleep(answer_in)
                    leg.answered_at = time.monotonic()
                    self.network.set_status(leg, "in-progress")
                    if script.behaviour != "hangup":
                        await asyncio.sleep(min(timing.dial_bridge_s, dial.time_limit_s))
                    status = "completed"
        finally:
            if status is None:  # the parent call ended while this leg rang or talked
                status = "completed" if leg.answered_at else "canceled"
            leg.duration = round(time.monotonic() - leg.answered_at) if leg.answered_at else 0
            leg.end_time = utc_now()
            self.network.set_status(leg, status)
        call.log("dial", number=dial.number, dial_call_sid=leg.sid, status=status)
        result = {"DialCallStatus": status, "DialCallSid": leg.sid}
        if leg.answered_at:
            result["DialCallDuration"] = str(leg.duration)
        return result

    # Helpers

    def _set_status(self, status: str) -> None:
        self.network.set_status(self.call, status)

    def _answer(self) -> None:
        call = self.call
        call.answered_at = time.monotonic()
        self.party.answered(call.answered_at)
        self._set_status("in-progress")
        self._callback("answered", "in-progress")

    def _detected(self, answered_by: str, after_s: float) -> None:
        self.call.answered_by = answered_by
        self.call.log("amd", answered_by=answered_by, after_s=round(after_s, 3))

    async def _amd(self, mode: str) -> None:
        """Asynchronous AMD: decide, then post ``AsyncAmdStatusCallback`` (signed) while the TwiML runs."""
        call = self.call
        answered_by, after = self.party.amd_result(mode, self.network.timing)
        await asyncio.sleep(after)
        if call.status != "in-progress":
            return
        self._detected(answered_by, after)
        url = call.options.get("AsyncAmdStatusCallback")
        if not url:
            return
        params = {"CallSid": call.sid, "AccountSid": call.account_sid, "AnsweredBy": answered_by,
                  "MachineDetectionDuration": str(int(after * 1000))}
        method = (call.options.get("AsyncAmdStatusCallbackMethod") or "POST").upper()
        result = await self.network.webhooks.request(url, params, method=method)
        call.log("callback", event="amd", url=url, status=result.status, error=result.error)

    async def _time_limit(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.call.log("hangup", by="carrier", reason="time limit")
        self.request_end("completed", by="time-limit")

    def _mark_terminal(self, status: str, *, by: str) -> None:
        call = self.call
        if call.terminal:
            return
        call.end_time = utc_now()
        call.duration = round(time.monotonic() - call.answered_at) if call.answered_at else 0
        call.log("end", status=status, by=by)
        self.network.set_status(call, status)

    def _finish(self, status: str, *, by: str) -> None:
        """End the call once: record the final status and queue the ``completed`` callback."""
        if self._finished:
            return
        self._finished = True
        self._mark_terminal(status, by=by)
        self._callback("completed", self.call.status)

    def _callback(self, event: str, status: str) -> None:
        if not self._status_callback or event not in self._callback_events:
            return
        call = self.call
        params = call_parameters(call, status=status)
        params.update({"CallbackSource": "call-progress-events", "SequenceNumber": str(self._sequence),
                       "Timestamp": format_datetime(utc_now().replace(microsecond=0))})
        if event == "completed":
            seconds = call.duration or 0
            params.update({"CallDuration": str(seconds), "Duration": str(math.ceil(seconds / 60)),
                           "SipResponseCode": SIP_RESPONSE.get(status, "200")})
        self._sequence += 1
        self._callbacks.put_nowait((event, self._status_callback, params, self._callback_method))

    async def _deliver_callbacks(self) -> None:
        """Post status callbacks one at a time, in order (the simulation never waits for them)."""
        while (item := await self._callbacks.get()) is not None:
            event, url, params, method = item
            result = await self.network.webhooks.request(url, params, method=method)
            self.call.log("callback", event=event, status=params["CallStatus"], url=url, http_status=result.status,
                          error=result.error)


def _seconds(value: object, default: float, maximum: float) -> float:
    try:
        seconds = float(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = default
    return min(max(seconds, 0.0), maximum)
