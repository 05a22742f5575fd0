"""POST /v1/calls/{id}/cancel (queued or ringing) and /hangup (in progress), with the fake carrier."""

from __future__ import annotations

from typing import Any

from callingbox.core.carrier.base import CarrierError
from callingbox.core.dialing import DialJob, DialOutcome
from tests.telephony.support import dialed_call, new_call, status_path


def _status(telephony: Any, workspace: Any, call: dict, sid: str, status: str, **extra: str) -> None:
    response = telephony.twilio.post(status_path(workspace.id, call["id"]),
                                     {"CallSid": sid, "CallStatus": status, **extra})
    assert response.status_code == 200, response.text


def test_cancel_while_ringing_hangs_up_at_the_carrier(api: Any, workspace: Any, telephony: Any,
                                                      outbound_agent: dict) -> None:
    # GIVEN a ringing call
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "ringing")
    # WHEN it is canceled
    response = api.post(f"/v1/calls/{call['id']}/cancel")
    # THEN the carrier stops the ringing and the call is canceled
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["end_reason"]) == ("canceled", "canceled")
    assert telephony.carrier.hangups == [sid]
    # AND the carrier's own canceled callback changes nothing
    _status(telephony, workspace, call, sid, "canceled")
    assert api.get(f"/v1/calls/{call['id']}").json() == response.json()


def test_cancel_of_a_dialed_call_not_yet_ringing_hangs_up_too(api: Any, workspace: Any, telephony: Any,
                                                              outbound_agent: dict) -> None:
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    assert api.post(f"/v1/calls/{call['id']}/cancel").json()["status"] == "canceled"
    assert telephony.carrier.hangups == [sid]


def test_cancel_refused_by_the_carrier_changes_nothing(api: Any, workspace: Any, telephony: Any,
                                                       outbound_agent: dict) -> None:
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "ringing")

    def refuse(call_sid: str) -> None:
        raise CarrierError("Service Unavailable", status=503, retryable=True)

    telephony.carrier.hang_up = refuse  # type: ignore[method-assign]
    response = api.post(f"/v1/calls/{call['id']}/cancel")
    assert response.status_code == 503 and response.json()["error"]["code"] == "carrier_unavailable"
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "ringing"


def test_a_call_canceled_while_being_dialed_is_hung_up_by_the_dialer(api: Any, workspace: Any, telephony: Any,
                                                                     outbound_agent: dict) -> None:
    # GIVEN the dialer is placing the call when the cancel arrives (claimed, no sid yet)
    call = new_call(api, outbound_agent)
    canceled: list = []

    def cancel_meanwhile(request: Any) -> None:
        canceled.append(api.post(f"/v1/calls/{call['id']}/cancel").json())

    telephony.carrier.before_dial = cancel_meanwhile
    result = telephony.dialer().dial(DialJob(workspace.id, call["id"]))
    # THEN the cancel wins and the call just placed is hung up
    assert canceled[0]["status"] == "canceled"
    assert result.outcome is DialOutcome.DIALED
    assert telephony.carrier.hangups == [result.carrier_sid]
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "canceled"


def test_cancel_in_progress_is_a_conflict(api: Any, workspace: Any, telephony: Any, outbound_agent: dict) -> None:
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "in-progress")
    response = api.post(f"/v1/calls/{call['id']}/cancel")
    assert response.status_code == 409 and response.json()["error"]["code"] == "call_not_cancelable"
    assert telephony.carrier.hangups == []


def test_hangup_ends_a_live_call_and_queues_its_extraction_once(api: Any, workspace: Any, telephony: Any,
                                                                outbound_agent: dict) -> None:
    # GIVEN a call in progress
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "in-progress")
    # WHEN the API hangs it up
    response = api.post(f"/v1/calls/{call['id']}/hangup")
    # THEN it is completed by the API, the carrier hangs up, and extraction is queued
    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["status"], done["end_reason"]) == ("completed", "api_hangup")
    assert done["billable_seconds"] == done["ended_at"] - done["answered_at"]
    assert telephony.carrier.hangups == [sid]
    assert len(telephony.queues.jobs("extraction", call["id"])) == 1
    # AND the carrier's completed callback that follows neither rewrites it nor queues it again
    _status(telephony, workspace, call, sid, "completed", CallDuration="20")
    assert api.get(f"/v1/calls/{call['id']}").json() == done
    assert len(telephony.queues.jobs("extraction", call["id"])) == 1


def test_hangup_needs_a_call_in_progress(api: Any, workspace: Any, telephony: Any, outbound_agent: dict) -> None:
    call = new_call(api, outbound_agent)
    response = api.post(f"/v1/calls/{call['id']}/hangup")
    assert response.status_code == 409 and response.json()["error"]["code"] == "call_not_in_progress"
    assert response.headers["x-should-retry"] == "false"
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "queued"
    assert api.post("/v1/calls/call_doesnotexist/hangup").status_code == 404
