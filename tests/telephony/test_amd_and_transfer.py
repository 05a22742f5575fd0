"""Answering-machine detection callbacks, and what runs after the stream (a transfer or a hang-up)."""

from __future__ import annotations

from typing import Any

import pytest

from callingbox.core.store import calls as call_store
from callingbox.core.stream_tokens import verify_stream_token
from tests.telephony.conftest import GATEWAY_URL, STREAM_SECRET
from tests.telephony.support import dialed_call, status_path, twiml


def _post(telephony: Any, workspace: Any, call: dict, hook: str, params: dict) -> Any:
    response = telephony.twilio.post(status_path(workspace.id, call["id"], hook), params)
    assert response.status_code == 200, response.text
    return response


def _answered(api: Any, telephony: Any, workspace: Any, agent: dict) -> tuple[dict, str]:
    call, sid = dialed_call(api, telephony, workspace.id, agent)
    _post(telephony, workspace, call, "status", {"CallSid": sid, "CallStatus": "in-progress"})
    return call, sid


@pytest.fixture
def voicemail_agent(api: Any) -> dict[str, Any]:
    response = api.post("/v1/agents", json={
        "name": "Leaves messages", "type": "outbound", "number_ids": ["pn_abc123"], "primary_number_id": "pn_abc123",
        "voicemail_action": "leave_message", "voicemail_message": "Hi, this is Bright Smiles. Please call us back."})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_human_is_noted(api: Any, workspace: Any, telephony: Any, outbound_agent: dict) -> None:
    call, sid = _answered(api, telephony, workspace, outbound_agent)
    _post(telephony, workspace, call, "amd", {"CallSid": sid, "AnsweredBy": "human", "MachineDetectionDuration": "1800"})
    stored = api.get(f"/v1/calls/{call['id']}").json()
    assert (stored["status"], stored["answered_by"]) == ("in_progress", "human")
    assert telephony.carrier.hangups == [] and telephony.carrier.redirects == []


def test_a_machine_with_hangup_ends_as_voicemail_with_nothing_billable(api: Any, workspace: Any, telephony: Any,
                                                                       outbound_agent: dict) -> None:
    # GIVEN an answered call (voicemail_action defaults to hangup)
    call, sid = _answered(api, telephony, workspace, outbound_agent)
    # WHEN the detector reports a machine
    _post(telephony, workspace, call, "amd", {"CallSid": sid, "AnsweredBy": "machine_start"})
    # THEN the carrier hangs up at once and the call is a no_answer by a machine, not billable
    assert telephony.carrier.hangups == [sid]
    stored = api.get(f"/v1/calls/{call['id']}").json()
    assert (stored["status"], stored["answered_by"], stored["end_reason"]) == ("no_answer", "machine", "voicemail")
    assert stored["billable_seconds"] == 0
    # AND the carrier's final completed callback and the gateway's end write change nothing, queue nothing
    _post(telephony, workspace, call, "status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "12"})
    assert not call_store.transition_call(workspace.id, call["id"], "completed", end_reason="caller_hangup").changed
    assert api.get(f"/v1/calls/{call['id']}").json() == stored
    assert telephony.queues.jobs("extraction", call["id"]) == []
    # AND a duplicated AMD callback does not hang up twice
    _post(telephony, workspace, call, "amd", {"CallSid": sid, "AnsweredBy": "machine_start"})
    assert telephony.carrier.hangups == [sid]


def test_a_machine_with_leave_message_gets_the_voicemail_stream(api: Any, workspace: Any, telephony: Any,
                                                                voicemail_agent: dict) -> None:
    # GIVEN an answered call of an agent that leaves messages
    call, sid = _answered(api, telephony, workspace, voicemail_agent)
    # WHEN the detector reports the end of the greeting (the beep)
    _post(telephony, workspace, call, "amd", {"CallSid": sid, "AnsweredBy": "machine_end_beep"})
    # THEN the call is redirected to a new stream in voicemail mode, not hung up
    assert telephony.carrier.hangups == []
    [(redirected_sid, document)] = telephony.carrier.redirects
    assert redirected_sid == sid
    connect = twiml(document).find("Connect")
    assert connect is not None and connect.get("action") is None  # the call ends with the message
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == GATEWAY_URL
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters["mode"] == "voicemail" and parameters["call_id"] == call["id"]
    assert verify_stream_token(STREAM_SECRET.encode(), parameters["token"]).call_id == call["id"]
    # AND the call is already a voicemail: the first stream's end can not make it a completed conversation
    stored = api.get(f"/v1/calls/{call['id']}").json()
    assert (stored["status"], stored["answered_by"], stored["end_reason"]) == ("no_answer", "machine", "voicemail")
    assert stored["voicemail"] == {"action": "leave_message", "left": False}
    # AND should the first stream close before the redirect lands, its action leads to the message too
    after = twiml(_post(telephony, workspace, call, "after_stream", {"CallSid": sid}).text)
    assert after.find("Connect/Stream/Parameter[@name='mode']").get("value") == "voicemail"


def test_leave_message_before_the_beep_is_a_hangup(api: Any, workspace: Any, telephony: Any,
                                                   voicemail_agent: dict) -> None:
    call, sid = _answered(api, telephony, workspace, voicemail_agent)
    _post(telephony, workspace, call, "amd", {"CallSid": sid, "AnsweredBy": "fax"})
    assert telephony.carrier.hangups == [sid] and telephony.carrier.redirects == []


def test_after_the_stream_a_requested_transfer_is_dialed(api: Any, workspace: Any, telephony: Any,
                                                         outbound_agent: dict) -> None:
    # GIVEN the gateway recorded a transfer on an answered call, then closed the stream
    call, sid = _answered(api, telephony, workspace, outbound_agent)

    def request_transfer(doc: dict) -> dict:
        doc["transfer"] = {"to": "+14155550142", "status": "requested"}
        return doc

    call_store.update_call(workspace.id, call["id"], request_transfer)
    # WHEN the carrier asks what comes after the stream
    document = twiml(_post(telephony, workspace, call, "after_stream", {"CallSid": sid}).text)
    # THEN it bridges the caller to the number, from our number, reporting back to transfer_status
    dial = document.find("Dial")
    assert dial is not None and dial.findtext("Number") == "+14155550142"
    assert dial.get("callerId") == call["from_number"]
    assert dial.get("action") == telephony.settings.public_api_url + status_path(workspace.id, call["id"],
                                                                                  "transfer_status")
    assert api.get(f"/v1/calls/{call['id']}").json()["transfer"]["status"] == "dialing"
    # AND the outcome is recorded on the call, then the call hangs up
    after = twiml(_post(telephony, workspace, call, "transfer_status",
                        {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "65",
                         "DialCallSid": "CA" + "f" * 32}).text)
    assert after.find("Hangup") is not None
    transfer = api.get(f"/v1/calls/{call['id']}").json()["transfer"]
    assert (transfer["to"], transfer["status"], transfer["duration_seconds"]) == ("+14155550142", "completed", 65)


def test_after_the_stream_without_a_transfer_the_call_hangs_up(api: Any, workspace: Any, telephony: Any,
                                                               outbound_agent: dict) -> None:
    call, sid = _answered(api, telephony, workspace, outbound_agent)
    document = twiml(_post(telephony, workspace, call, "after_stream", {"CallSid": sid}).text)
    assert [child.tag for child in document] == ["Hangup"]
