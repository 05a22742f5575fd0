"""Inbound calls: ``LocalCarrier.ring``, ``POST /local/ring`` and ``callingbox phone ring``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import pytest
from twilio.rest import Client

from callingbox.cli.main import main
from callingbox.local.carrier import LocalCarrier, NumberNotFound
from tests.local_carrier.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    GatewayStandIn,
    WebhookReceiver,
    connect_twiml,
    unique_path,
)

pytestmark = pytest.mark.integration

CALLER = "+15557654321"
WEBHOOK_FIELDS = {"AccountSid", "ApiVersion", "CallSid", "CallStatus", "Called", "Caller", "Direction", "From", "To"}


def own_number(twilio: Client, app: WebhookReceiver, area_code: str, twiml: str, status: int = 200
               ) -> tuple[str, str, str, str]:
    """Buy a number whose voice webhook answers ``twiml``: (number, sid, voice path, status callback path)."""
    voice_path, status_path = unique_path("voice"), unique_path("number-status")
    app.respond(voice_path, twiml, status=status)
    offered = twilio.available_phone_numbers("US").local.list(area_code=area_code, limit=1)[0].phone_number
    bought = twilio.incoming_phone_numbers.create(phone_number=offered, voice_url=app.url(voice_path),
                                                  status_callback=app.url(status_path))
    return offered, bought.sid, voice_path, status_path


def test_ring_posts_a_signed_voice_webhook_and_the_caller_talks_after_the_agent(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn) -> None:
    stream_path = unique_path("inbound")
    twiml = connect_twiml(gateway.url(stream_path), mode="converse", close_after="2", greet="0.6")
    number, number_sid, voice_path, status_path = own_number(twilio, app, "206", twiml)

    sid = carrier.ring(number, CALLER, lines=["I would like to book a table.", "Seven people."])
    webhook = app.wait_for(voice_path)[0]
    assert webhook.signature_valid and webhook.method == "POST"
    assert WEBHOOK_FIELDS <= set(webhook.form)
    assert (webhook.form["CallSid"], webhook.form["CallStatus"], webhook.form["Direction"]) == (
        sid, "ringing", "inbound")
    assert (webhook.form["From"], webhook.form["To"], webhook.form["Called"], webhook.form["Caller"]) == (
        CALLER, number, number, CALLER)

    record = carrier.wait_for_call(sid, timeout=15)
    assert record.statuses == ["ringing", "in-progress", "completed"]
    assert record.spoken_text == ["I would like to book a table.", "Seven people."]
    session = gateway.wait_for_session(stream_path)
    greeting_end = session.replies[0][1]
    assert session.utterances[0][0] - greeting_end >= 0.6  # the caller let the agent finish its greeting

    completed = app.wait_for(status_path)
    assert len(completed) == 1  # a number's StatusCallback gets the completed event only
    assert completed[0].signature_valid
    assert (completed[0].form["CallStatus"], completed[0].form["Direction"]) == ("completed", "inbound")
    fetched = twilio.calls(sid).fetch()
    assert (fetched.direction, fetched.phone_number_sid, fetched.status) == ("inbound", number_sid, "completed")


@pytest.mark.parametrize(("twiml", "status", "final"), [
    ('<Response><Reject reason="busy"/></Response>', 200, "busy"),
    ("<Response><Reject/></Response>", 200, "no-answer"),
    ("<Response><Say>Hi", 200, "failed"),  # not a TwiML document: application error before the answer
    ("down", 500, "failed"),
])
def test_rejected_and_failed_inbound_calls(twilio: Client, carrier: LocalCarrier, app: WebhookReceiver,
                                           twiml: str, status: int, final: str) -> None:
    number, _, _, status_path = own_number(twilio, app, "512", twiml, status)
    sid = carrier.ring(number, CALLER)
    record = carrier.wait_for_call(sid)
    assert record.statuses == ["ringing", final]
    callback = app.wait_for(status_path)[0]
    assert callback.signature_valid and callback.form["CallStatus"] == final


def test_ringing_a_number_the_account_does_not_own(carrier: LocalCarrier) -> None:
    with pytest.raises(NumberNotFound):
        carrier.ring("+14155550999", CALLER)
    response = httpx.post(f"{carrier.api_url}/local/ring", json={"to": "+14155550999", "from": CALLER},
                          auth=(ACCOUNT_SID, AUTH_TOKEN), trust_env=False)
    assert response.status_code == 404 and response.json()["code"] == 20404


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, carrier: LocalCarrier) -> Path:
    """A ``.callingbox/local.env`` as ``make dev`` writes it, in the working directory."""
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CALLINGBOX_TWILIO_API_URL", "CALLINGBOX_VOICE_URL"):
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".callingbox" / "local.env"
    env.parent.mkdir()
    env.write_text(f"TWILIO_ACCOUNT_SID={ACCOUNT_SID}\nTWILIO_AUTH_TOKEN={AUTH_TOKEN}\n"
                   f"CALLINGBOX_TWILIO_API_URL={carrier.api_url}\n")
    monkeypatch.chdir(tmp_path)
    return env


def test_cli_phone_ring_asks_the_running_carrier(twilio: Client, carrier: LocalCarrier, app: WebhookReceiver,
                                                 local_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    number, _, voice_path, _ = own_number(twilio, app, "415", "<Response><Say>Hi</Say><Hangup/></Response>")
    assert main(["phone", "ring", number, "--from", CALLER, "--say", "Hello"]) == 0
    out = capsys.readouterr().out
    assert "status: ringing" in out and "status: completed" in out
    sid = app.received(voice_path)[0].form["CallSid"]
    assert f"call {sid} ended: completed" in out
    assert carrier.calls[sid].direction == "inbound"

    assert main(["phone", "ring", "+14155550999", "--from", CALLER]) == 1
    assert "IncomingPhoneNumber" in capsys.readouterr().err


def test_cli_phone_ring_interactive_plays_the_caller_from_its_own_process(
        twilio: Client, carrier: LocalCarrier, app: WebhookReceiver, gateway: GatewayStandIn, local_env: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stream_path = unique_path("interactive")
    number, _, voice_path, status_path = own_number(
        twilio, app, "312", connect_twiml(gateway.url(stream_path), mode="hold", greet="0.6", token="t-1"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello, is anyone there?\n"))  # then Ctrl-D

    assert main(["phone", "ring", number, "--from", CALLER, "--interactive"]) == 0
    out = capsys.readouterr().out
    assert "agent: speaking" in out and "status: in-progress" in out and "ended: completed" in out

    webhook = app.wait_for(voice_path)[0]
    assert webhook.signature_valid and webhook.form["Direction"] == "inbound"
    sid = webhook.form["CallSid"]
    assert sid not in carrier.calls  # the CLI process was the carrier for this call
    session = gateway.wait_for_session(stream_path)
    assert session.parameters["token"] == "t-1" and session.start["start"]["callSid"] == sid  # type: ignore[index]
    assert session.stopped and session.speech_s >= 0.8  # said the typed line, then hung up
    completed = app.wait_for(status_path)[0]
    assert completed.signature_valid and completed.form["CallStatus"] == "completed"
