"""Outbound calls through the local network: callees, signed callbacks, AMD, media streams, TwiML."""

from __future__ import annotations

import re
import time

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from callingbox.local.carrier import LocalCarrier
from callingbox.local.carrier.speech import beep_ulaw
from tests.local_carrier.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    GatewayStandIn,
    Received,
    WebhookReceiver,
    connect_twiml,
    eventually,
    unique_path,
)

pytestmark = pytest.mark.integration

FROM = "+14155550100"
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
CALLBACK_FIELDS = {"AccountSid", "ApiVersion", "CallSid", "CallStatus", "Called", "Caller", "Direction", "From", "To",
                   "CallbackSource", "SequenceNumber", "Timestamp"}
HANGUP = "<Response><Hangup/></Response>"


def place(twilio: Client, app: WebhookReceiver, to: str, twiml: str, **options: object) -> tuple[str, str]:
    """Create a call with every status callback event; returns (CallSid, callback path)."""
    path = unique_path("status")
    call = twilio.calls.create(to=to, from_=FROM, twiml=twiml, status_callback=app.url(path),
                               status_callback_event=ALL_EVENTS, **options)
    return call.sid, path


def callback_statuses(app: WebhookReceiver, path: str, count: int, sid: str) -> list[Received]:
    """The ``count`` status callbacks of ``sid``, checked against Twilio's shape; in arrival order."""
    received = app.wait_for(path, count)
    assert len(received) == count, [r.form["CallStatus"] for r in received]
    for index, request in enumerate(received):
        assert request.method == "POST" and request.signature_valid, request.headers
        assert CALLBACK_FIELDS <= set(request.form), CALLBACK_FIELDS - set(request.form)
        form = request.form
        assert (form["CallSid"], form["AccountSid"], form["ApiVersion"]) == (sid, ACCOUNT_SID, "2010-04-01")
        assert (form["CallbackSource"], form["SequenceNumber"]) == ("call-progress-events", str(index))
        assert (form["From"], form["Caller"], form["Direction"]) == (FROM, FROM, "outbound-api")
        assert re.match(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$", form["Timestamp"])
    final = received[-1].form
    assert {"CallDuration", "Duration", "SipResponseCode"} <= set(final)
    assert not {"CallDuration", "Duration"} & set(received[0].form)
    return received


def test_human_callee_streams_takes_turns_and_the_connect_action_runs(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn) -> None:
    to = "+14155550201"
    carrier.set_callee(to, lines=["Hello?", "Yes, tomorrow works."])
    action = app.respond(unique_path("after-stream"), HANGUP)
    twiml = connect_twiml(gateway.url("/converse"), action=action, mode="converse", close_after="2", token="tok-123")
    sid, path = place(twilio, app, to, twiml)

    record = carrier.wait_for_call(sid, timeout=20)
    assert record.statuses == ["queued", "ringing", "in-progress", "completed"]
    session = gateway.wait_for_session("/converse")

    # The handshake: connected, then start with the TwiML's <Parameter>s; the upgrade is signed.
    assert [event["event"] for event in session.events[:2]] == ["connected", "start"]
    start = session.start["start"]  # type: ignore[index]
    assert start["customParameters"] == {"mode": "converse", "close_after": "2", "token": "tok-123"}
    assert (start["callSid"], start["accountSid"]) == (sid, ACCOUNT_SID)
    assert re.match(r"^MZ[0-9a-f]{32}$", start["streamSid"])
    assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert RequestValidator(AUTH_TOKEN).validate(gateway.url("/converse"), {}, session.upgrade_signature)

    # The callee's speech arrives as 160-byte μ-law frames; it waited for the agent before its second line.
    assert session.frames and all(len(frame) == 160 for _, frame in session.frames)
    assert len(session.utterances) == 2 and len(session.replies) == 1
    gap = session.utterances[1][0] - session.replies[0][1]
    assert 0.6 <= gap <= 1.8, gap
    assert record.spoken_text == ["Hello?", "Yes, tomorrow works."]
    assert len(record.heard_audio) >= 0.5 * 8000  # the agent's 0.6 s reply, as the callee's speaker played it

    # The gateway closed the stream: the Connect action was fetched (signed) and its <Hangup/> obeyed.
    assert record.streams[0].closed_by == "gateway"
    fetched = app.wait_for(action.split(str(app.port))[1])
    assert fetched[0].signature_valid and fetched[0].form["CallSid"] == sid
    assert fetched[0].form["CallStatus"] == "in-progress"

    received = callback_statuses(app, path, 4, sid)
    assert [r.form["CallStatus"] for r in received] == ["initiated", "ringing", "in-progress", "completed"]
    assert int(received[-1].form["CallDuration"]) >= 1 and received[-1].form["Duration"] == "1"
    assert received[-1].form["SipResponseCode"] == "200"


@pytest.mark.parametrize(("to", "timeout", "statuses"), [
    ("+15550100003", None, ["initiated", "busy"]),
    ("+15550100004", 1, ["initiated", "ringing", "no-answer"]),
    ("+15550100005", None, ["initiated", "failed"]),
])
def test_unanswered_callees(twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn,
                            to: str, timeout: int | None, statuses: list[str]) -> None:
    stream_path = unique_path("never")
    options = {"timeout": timeout} if timeout else {}
    started = time.monotonic()
    sid, path = place(twilio, app, to, connect_twiml(gateway.url(stream_path)), **options)
    record = carrier.wait_for_call(sid, timeout=10)
    assert record.status == statuses[-1]
    if timeout:
        assert time.monotonic() - started >= timeout
    received = callback_statuses(app, path, len(statuses), sid)
    assert [r.form["CallStatus"] for r in received] == statuses
    assert received[-1].form["CallDuration"] == "0"
    assert twilio.calls(sid).fetch().status == statuses[-1]
    assert not [s for s in gateway.sessions if s.path == stream_path]  # no media without an answer


def test_voicemail_with_async_amd_reports_machine_end_beep(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn) -> None:
    amd_path = unique_path("amd")
    sid, path = place(twilio, app, "+15550100002", connect_twiml(gateway.url("/voicemail"), mode="hold"),
                      machine_detection="DetectMessageEnd", async_amd="true",
                      async_amd_status_callback=app.url(amd_path))
    session = gateway.wait_for_session("/voicemail")  # the TwiML runs at the answer, before AMD decides
    amd = app.wait_for(amd_path, timeout=15)[0]
    assert amd.signature_valid
    assert set(amd.form) == {"CallSid", "AccountSid", "AnsweredBy", "MachineDetectionDuration"}
    assert (amd.form["CallSid"], amd.form["AccountSid"], amd.form["AnsweredBy"]) == (
        sid, ACCOUNT_SID, "machine_end_beep")
    announcement_ms = int(amd.form["MachineDetectionDuration"])
    assert announcement_ms > 1500
    # The callback came when the beep ended: greeting and beep have reached the gateway.
    assert beep_ulaw(carrier.network.timing.beep_s)[:1600] in session.audio
    assert len(session.audio) >= (announcement_ms - 200) * 8

    gateway.say(session, 0.5)  # the agent leaves its message after the beep
    record = carrier.wait_for_call(sid, timeout=10)  # the machine hangs up after the silence
    assert record.status == "completed" and record.answered_by == "machine_end_beep"
    assert record.streams[0].closed_by == "callee"
    eventually(lambda: session.closed_at)
    assert session.stopped  # the carrier sent stop before closing
    assert len(record.heard_audio) >= 0.4 * 8000  # the machine recorded the message
    received = callback_statuses(app, path, 4, sid)
    assert received[-1].form["AnsweredBy"] == "machine_end_beep"
    assert twilio.calls(sid).fetch().answered_by == "machine_end_beep"


def test_human_with_async_amd_reports_human(twilio: Client, carrier: LocalCarrier, app: WebhookReceiver) -> None:
    amd_path = unique_path("amd")
    sid, _ = place(twilio, app, "+15550100001", '<Response><Pause length="1"/></Response>',
                   machine_detection="DetectMessageEnd", async_amd="true",
                   async_amd_status_callback=app.url(amd_path))
    amd = app.wait_for(amd_path)[0]
    assert amd.signature_valid and amd.form["AnsweredBy"] == "human" and amd.form["CallSid"] == sid
    assert int(amd.form["MachineDetectionDuration"]) == int(carrier.network.timing.amd_human_s * 1000)
    assert carrier.wait_for_call(sid).answered_by == "human"


def test_rest_twiml_update_replaces_a_running_stream(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn) -> None:
    action_path = unique_path("not-fetched")
    stream_path = unique_path("hold")
    sid, path = place(twilio, app, "+15550100001",
                      connect_twiml(gateway.url(stream_path), action=app.url(action_path), mode="hold"))
    session = gateway.wait_for_session(stream_path)
    twilio.calls(sid).update(twiml="<Response><Say>Transferring you now</Say><Hangup/></Response>")
    eventually(lambda: session.closed_at)
    assert session.stopped and session.events[-1]["event"] == "stop"
    assert session.events[-1]["stop"]["callSid"] == sid
    record = carrier.wait_for_call(sid)
    assert record.status == "completed"
    assert record.streams[0].closed_by == "carrier"
    assert [e.detail["text"] for e in record.events_of("say")] == ["Transferring you now"]
    assert app.received(action_path) == []  # replaced TwiML: the Connect action is not fetched
    callback_statuses(app, path, 4, sid)


def test_rest_status_completed_hangs_up_a_live_call(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn) -> None:
    stream_path = unique_path("hold")
    sid, path = place(twilio, app, "+15550100001", connect_twiml(gateway.url(stream_path), mode="hold"))
    session = gateway.wait_for_session(stream_path)
    assert twilio.calls(sid).update(status="completed").status == "completed"
    eventually(lambda: session.closed_at)
    assert session.stopped
    received = callback_statuses(app, path, 4, sid)
    assert received[-1].form["CallStatus"] == "completed"
    with pytest.raises(Exception) as ended:
        twilio.calls(sid).update(twiml=HANGUP)
    assert getattr(ended.value, "code", None) == 21220


def test_time_limit_ends_the_call(twilio: Client, carrier: LocalCarrier, app: WebhookReceiver) -> None:
    started = time.monotonic()
    sid, path = place(twilio, app, "+15550100001", '<Response><Pause length="30"/></Response>', time_limit=1)
    record = carrier.wait_for_call(sid, timeout=5)
    assert record.status == "completed" and 1.0 <= time.monotonic() - started < 3.0
    assert callback_statuses(app, path, 4, sid)[-1].form["CallDuration"] == "1"


def test_dial_bridges_per_test_number_and_posts_the_action(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver) -> None:
    second = app.respond(unique_path("dial-2"), HANGUP)
    first = app.respond(unique_path("dial-1"),
                        f'<Response><Dial action="{second}"><Number>+15550100001</Number></Dial></Response>')
    sid, _ = place(twilio, app, "+15550100001", f'<Response><Dial action="{first}" timeout="5">+15550100003</Dial>'
                                                 '</Response>')
    assert carrier.wait_for_call(sid, timeout=10).status == "completed"
    busy = app.wait_for(first.split(str(app.port))[1])[0]
    assert busy.signature_valid and busy.form["DialCallStatus"] == "busy" and busy.form["CallSid"] == sid
    bridged = app.wait_for(second.split(str(app.port))[1])[0]
    assert bridged.form["DialCallStatus"] == "completed" and "DialCallDuration" in bridged.form
    leg = carrier.calls[bridged.form["DialCallSid"]]
    assert (leg.direction, leg.parent_call_sid, leg.to, leg.status) == ("outbound-dial", sid, "+15550100001",
                                                                       "completed")


def test_url_twiml_is_fetched_signed_at_the_answer(twilio: Client, carrier: LocalCarrier,
                                                   app: WebhookReceiver) -> None:
    url = app.respond(unique_path("answer"), HANGUP)
    call = twilio.calls.create(to="+15550100001", from_=FROM, url=url)
    assert carrier.wait_for_call(call.sid).status == "completed"
    fetched = app.wait_for(url.split(str(app.port))[1])[0]
    assert fetched.signature_valid and fetched.method == "POST"
    assert (fetched.form["CallStatus"], fetched.form["Direction"], fetched.form["To"]) == (
        "in-progress", "outbound-api", "+15550100001")

    broken = app.respond(unique_path("broken"), "oops", status=500)
    call = twilio.calls.create(to="+15550100001", from_=FROM, url=broken)
    record = carrier.wait_for_call(call.sid)
    assert record.status == "completed"  # answered, then Twilio's application error hangs up
    assert [e.detail["code"] for e in record.events_of("error")] == [11200]


def test_fifty_calls_a_second_each_get_their_callbacks_in_order(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver) -> None:
    from concurrent.futures import ThreadPoolExecutor

    count = 100
    started = time.monotonic()

    def dial(index: int) -> tuple[str, str]:
        time.sleep(max(0.0, started + index / 50 - time.monotonic()))  # 50 calls per second
        return place(twilio, app, "+15550100006", HANGUP)

    with ThreadPoolExecutor(max_workers=10) as pool:
        placed = list(pool.map(dial, range(count)))
    assert time.monotonic() - started < count / 50 + 1.0  # the API kept up with the rate
    for sid, path in placed:
        assert carrier.wait_for_call(sid, timeout=10).statuses == ["queued", "ringing", "in-progress", "completed"]
        received = callback_statuses(app, path, 4, sid)
        assert [r.form["CallStatus"] for r in received] == ["initiated", "ringing", "in-progress", "completed"]
