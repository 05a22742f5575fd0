"""Carrier status callbacks over real HTTP, signed as Twilio signs them: the state machine, duplicates,
reordering, the signature check, and who queues the post-call work."""

from __future__ import annotations

from typing import Any

import pytest

from tests.telephony.support import dialed_call, new_call, status_path


def _status(telephony: Any, workspace: Any, call: dict, sid: str, status: str, **extra: str) -> Any:
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "CallStatus": status, "To": call["to_number"],
              "From": call["from_number"], "Direction": "outbound-api", "ApiVersion": "2010-04-01", **extra}
    response = telephony.twilio.post(status_path(workspace.id, call["id"]), params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    return response


def test_callbacks_in_order_walk_the_call_to_completed(api: Any, workspace: Any, telephony: Any,
                                                       outbound_agent: dict) -> None:
    # GIVEN a dialed call
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    # WHEN the carrier reports initiated, ringing, in-progress
    _status(telephony, workspace, call, sid, "initiated")
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "queued"
    _status(telephony, workspace, call, sid, "ringing")
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "ringing"
    _status(telephony, workspace, call, sid, "in-progress")
    answered = api.get(f"/v1/calls/{call['id']}").json()
    assert answered["status"] == "in_progress" and answered["answered_at"] is not None
    # AND completed after 42 s of conversation
    _status(telephony, workspace, call, sid, "completed", CallDuration="42")
    # THEN the call is completed by the caller, with its durations, and its extraction is queued once
    done = api.get(f"/v1/calls/{call['id']}").json()
    assert (done["status"], done["end_reason"], done["duration_seconds"]) == ("completed", "caller_hangup", 42)
    assert done["billable_seconds"] == done["ended_at"] - done["answered_at"]
    assert telephony.queues.jobs("extraction", call["id"]) == [({"workspace_id": workspace.id, "call_id": call["id"]}, 5)]


def test_the_extraction_job_reaches_the_queue(api: Any, workspace: Any, telephony: Any, outbound_agent: dict) -> None:
    import json
    import time

    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "in-progress")
    _status(telephony, workspace, call, sid, "completed", CallDuration="3")
    # THEN the job is on the extraction queue (after its 5 s delay)
    url = telephony.settings.queue_urls["extraction"]
    deadline = time.monotonic() + 15
    bodies: list = []
    while time.monotonic() < deadline and not bodies:
        for message in telephony.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
    assert bodies == [{"workspace_id": workspace.id, "call_id": call["id"]}]


def test_duplicated_and_reordered_callbacks_never_move_a_call_back(api: Any, workspace: Any, telephony: Any,
                                                                   outbound_agent: dict) -> None:
    # GIVEN a call answered, then completed, each callback delivered twice
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "in-progress")
    _status(telephony, workspace, call, sid, "in-progress")
    answered_at = api.get(f"/v1/calls/{call['id']}").json()["answered_at"]
    _status(telephony, workspace, call, sid, "completed", CallDuration="10")
    first = api.get(f"/v1/calls/{call['id']}").json()
    _status(telephony, workspace, call, sid, "completed", CallDuration="10")
    # WHEN the late ringing and in-progress callbacks arrive last
    _status(telephony, workspace, call, sid, "ringing")
    _status(telephony, workspace, call, sid, "in-progress")
    # THEN the call stays completed, unchanged, and its extraction was queued exactly once
    final = api.get(f"/v1/calls/{call['id']}").json()
    assert final == first
    assert final["status"] == "completed" and final["answered_at"] == answered_at
    assert len(telephony.queues.jobs("extraction", call["id"])) == 1


def test_completed_before_in_progress_still_counts_the_answered_call(api: Any, workspace: Any, telephony: Any,
                                                                     outbound_agent: dict) -> None:
    # GIVEN the in-progress callback is delayed behind completed (a 7 s call)
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "ringing")
    _status(telephony, workspace, call, sid, "completed", CallDuration="7")
    _status(telephony, workspace, call, sid, "in-progress")
    done = api.get(f"/v1/calls/{call['id']}").json()
    # THEN it is completed with 7 billable seconds, not a missed call
    assert done["status"] == "completed" and done["billable_seconds"] == 7 and done["duration_seconds"] == 7


@pytest.mark.parametrize(("carrier_status", "status", "end_reason"), [
    ("busy", "busy", "busy"),
    ("no-answer", "no_answer", "no_answer"),
    ("failed", "failed", "error:carrier"),
    ("canceled", "canceled", "canceled"),
    ("completed", "no_answer", "no_answer"),  # ended without ever being answered
])
def test_unanswered_endings(api: Any, workspace: Any, telephony: Any, outbound_agent: dict, carrier_status: str,
                            status: str, end_reason: str) -> None:
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    _status(telephony, workspace, call, sid, "ringing")
    _status(telephony, workspace, call, sid, carrier_status, CallDuration="0")
    done = api.get(f"/v1/calls/{call['id']}").json()
    assert (done["status"], done["end_reason"], done["billable_seconds"]) == (status, end_reason, 0)
    assert done["ended_at"] is not None and done["answered_at"] is None
    assert telephony.queues.jobs("extraction", call["id"]) == []


@pytest.mark.parametrize("signature", [None, "", "forged+signature=", "sign-with-another-token"])
def test_forged_or_missing_signatures_are_refused_and_change_nothing(api: Any, workspace: Any, telephony: Any,
                                                                     outbound_agent: dict, signature: Any) -> None:
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    before = api.get(f"/v1/calls/{call['id']}").json()
    params = {"CallSid": sid, "CallStatus": "in-progress"}
    if signature == "sign-with-another-token":
        response = telephony.twilio.post(status_path(workspace.id, call["id"]), params, token="another-token")
    else:
        response = telephony.twilio.post(status_path(workspace.id, call["id"]), params, signature=signature)
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("permission_error", "invalid_signature")
    assert api.get(f"/v1/calls/{call['id']}").json() == before


def test_a_signature_for_another_url_or_other_fields_is_refused(api: Any, workspace: Any, telephony: Any,
                                                                outbound_agent: dict) -> None:
    call, sid = dialed_call(api, telephony, workspace.id, outbound_agent)
    other = new_call(api, outbound_agent)
    # A genuine signature of another call's callback, replayed against this call's URL
    params = {"CallSid": sid, "CallStatus": "busy"}
    stolen = telephony.twilio.sign(status_path(workspace.id, other["id"]), params)
    assert telephony.twilio.post(status_path(workspace.id, call["id"]), params, signature=stolen).status_code == 403
    # A genuine signature over other field values
    signed = telephony.twilio.sign(status_path(workspace.id, call["id"]), {"CallSid": sid, "CallStatus": "ringing"})
    assert telephony.twilio.post(status_path(workspace.id, call["id"]), params, signature=signed).status_code == 403
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "queued"


def test_callbacks_for_unknown_calls_are_acknowledged_and_ignored(workspace: Any, telephony: Any) -> None:
    response = telephony.twilio.post(status_path(workspace.id, "call_doesnotexist"),
                                     {"CallSid": "CA0", "CallStatus": "completed"})
    assert response.status_code == 200


def test_a_call_never_lasts_less_than_its_billable_part() -> None:
    from callingbox.core.telephony import _terminal_fields

    # GIVEN a call answered at t=100 by our clock, WHEN the carrier's final callback arrives at
    # t=123 reporting 22 s (its own clock and rounding) THEN the duration covers the 23 billable s
    doc = {"status": "in_progress", "answered_at": 100, "started_at": 95}
    fields = _terminal_fields(doc, "completed", 22, 123)
    assert (fields["billable_seconds"], fields["duration_seconds"]) == (23, 23)
    # AND a longer carrier duration (ringing included) is kept as the carrier reported it
    assert _terminal_fields(doc, "completed", 30, 123)["duration_seconds"] == 30


def test_a_callback_first_to_the_sid_records_the_dial_and_the_dialer_then_writes_nothing(
        api: Any, workspace: Any, telephony: Any, outbound_agent: dict) -> None:
    from callingbox.core.store import calls as call_store
    from callingbox.core.store import dials as dial_store

    # GIVEN a call the dialer has claimed, whose ringing callback beats the dialer's own sid write
    call = new_call(api, outbound_agent)
    claimed = dial_store.claim_dial(workspace.id, call["id"], {"state": "dialing", "attempt_id": "a1", "claimed_at": 1})
    assert claimed.changed
    _status(telephony, workspace, call, "CA" + "1" * 32, "initiated")
    assert call_store.get_call(workspace.id, call["id"]).version == claimed.record.version  # initiated: nothing
    _status(telephony, workspace, call, "CA" + "1" * 32, "ringing")
    # THEN the callback noted the sid and the dial as done
    doc = call_store.get_call(workspace.id, call["id"]).doc
    assert doc["status"] == "ringing" and doc["carrier_sid"] == "CA" + "1" * 32
    assert doc["dial"]["state"] == "dialed" and doc["dial"]["attempt_id"] == "a1"
    # AND the dialer's sid write, against the record its claim left, finds nothing to change
    dialer = telephony.dialer()
    from callingbox.core.dialing.types import DialJob

    before = call_store.get_call(workspace.id, call["id"]).version
    written = dialer._record(DialJob(workspace.id, call["id"]), "a1", "CA" + "1" * 32, current=claimed.record)
    assert written["carrier_sid"] == "CA" + "1" * 32
    assert call_store.get_call(workspace.id, call["id"]).version == before
