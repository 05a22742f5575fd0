"""Whole calls over the real local stack: API → dialer → local Twilio stand-in (driven through the real
Twilio SDK) → signed carrier webhooks → voice gateway (local engines) → final status.

Nothing is faked here: the callee is the stand-in's simulated phone for each documented test
number (see :mod:`callingbox.local.carrier`).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest

from callingbox.core.store.transcripts import list_segments
from tests.support import unique_e164

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def workers(local_stack: Any) -> Iterator[None]:
    """The dialer and webhook pollers, on queues emptied of other tests' jobs."""
    import botocore.session

    from callingbox.core.settings import Settings
    from callingbox.local.stack import start_workers

    settings = Settings.from_env(local_stack.environment)
    sqs = botocore.session.get_session().create_client("sqs", region_name=settings.region,
                                                       endpoint_url=settings.aws_endpoint_url)
    for queue in ("dial", "webhooks"):
        sqs.purge_queue(QueueUrl=settings.queue_urls[queue])
    running = start_workers(settings)
    yield
    for worker in running:
        worker.stop()

HUMAN, VOICEMAIL, BUSY, NO_ANSWER, FAILED = ("+15550100001", "+15550100002", "+15550100003", "+15550100004",
                                             "+15550100005")
TERMINAL = {"completed", "no_answer", "busy", "failed", "canceled"}


def _outbound_agent(api: Any, **fields: Any) -> str:
    body = {"name": "Reminders", "type": "outbound", "instructions": "Confirm the appointment.",
            "returns": {"confirmed": "boolean"}, "number_ids": ["pn_abc123"], "primary_number_id": "pn_abc123",
            **fields}
    created = api.post("/v1/agents", json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _wait(api: Any, call_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        call = api.get(f"/v1/calls/{call_id}").json()
        if until(call):
            return call
        assert time.monotonic() < deadline, f"call stuck: {call['status']} {call.get('end_reason')}"
        time.sleep(0.25)


def _place(api: Any, agent_id: str, to: str) -> str:
    created = api.post("/v1/calls", json={"agent_id": agent_id, "to": to})
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def test_an_outbound_call_to_a_person_completes_with_both_sides_in_the_transcript(api: Any, workspace: Any) -> None:
    agent = _outbound_agent(api, first_message="Hi, this is the clinic.")
    call_id = _place(api, agent, HUMAN)
    call = _wait(api, call_id, lambda c: c["status"] in TERMINAL)
    assert (call["status"], call["answered_by"]) == ("completed", "human"), call
    assert call["end_reason"] in ("agent_hangup", "caller_hangup")
    assert call["answered_at"] and call["billable_seconds"] >= 1 and call["duration_seconds"] >= call["billable_seconds"]
    parties = {segment["party"] for segment in list_segments(workspace.id, call_id)}
    assert parties == {"agent", "caller"}


def test_voicemail_with_hangup_is_no_answer_by_a_machine_and_nothing_billable(api: Any) -> None:
    agent = _outbound_agent(api, voicemail_action="hangup")
    call = _wait(api, _place(api, agent, VOICEMAIL), lambda c: c["status"] in TERMINAL)
    assert (call["status"], call["answered_by"], call["end_reason"]) == ("no_answer", "machine", "voicemail")
    assert call["billable_seconds"] == 0 and call["result"] is None


def test_voicemail_with_leave_message_speaks_the_message_then_hangs_up(api: Any, workspace: Any,
                                                                      local_stack: Any) -> None:
    agent = _outbound_agent(api, voicemail_action="leave_message",
                            voicemail_message="Hi, this is the clinic calling about your appointment. Please call us back.")
    call_id = _place(api, agent, VOICEMAIL)
    call = _wait(api, call_id, lambda c: (c.get("voicemail") or {}).get("left") is True, timeout=90)
    assert (call["status"], call["answered_by"], call["end_reason"]) == ("no_answer", "machine", "voicemail")
    said = " ".join(s["text"] for s in list_segments(workspace.id, call_id) if s["party"] == "agent")
    assert "Please call us back." in said
    # the machine really heard it: the stand-in recorded a second stream (mode=voicemail) with agent audio
    record = local_stack.carrier.calls[call["carrier_sid"]]
    assert len(record.streams) >= 2


@pytest.mark.parametrize(("to", "status"), [(BUSY, "busy"), (NO_ANSWER, "no_answer"), (FAILED, "failed")])
def test_calls_nobody_takes_end_in_the_matching_status(api: Any, to: str, status: str) -> None:
    agent = _outbound_agent(api)
    call = _wait(api, _place(api, agent, to), lambda c: c["status"] in TERMINAL, timeout=30)
    assert call["status"] == status and call["answered_at"] is None and call["billable_seconds"] == 0
    assert call["end_reason"]


def test_an_inbound_call_is_answered_by_the_numbers_inbound_agent(api: Any, workspace: Any,
                                                                  local_stack: Any) -> None:
    agent = api.post("/v1/agents", json={"name": "Front desk", "type": "inbound",
                                         "instructions": "Help callers.", "returns": {"caller_name": "string"},
                                         "number_ids": ["pn_xyz789"]}).json()
    number = api.get("/v1/numbers/pn_xyz789").json()["number"]
    caller = unique_e164()
    sid = local_stack.carrier.ring(number, caller, lines=["Hello, my name is Ann."])
    listed: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not listed:
        assert time.monotonic() < deadline, "no inbound call record"
        listed = api.get(f"/v1/agents/{agent['id']}/calls").json()["data"]
        time.sleep(0.25)
    call_id = listed[0]["id"]
    # the agent speaks first on an inbound call; once it has, end the call from the API
    _wait(api, call_id, lambda c: any(s["party"] == "agent" for s in list_segments(workspace.id, call_id)))
    assert api.post(f"/v1/calls/{call_id}/hangup").status_code == 200
    record = local_stack.carrier.wait_for_call(sid, "completed", timeout=30)
    assert "in-progress" in record.statuses
    call = _wait(api, call_id, lambda c: c["status"] in TERMINAL)
    assert (call["direction"], call["from_number"], call["to_number"]) == ("inbound", caller, number)
    assert (call["status"], call["end_reason"]) == ("completed", "api_hangup")
    assert call["agent_snapshot"]["instructions"] == "Help callers."
    assert len(api.get(f"/v1/agents/{agent['id']}/calls").json()["data"]) == 1


def test_a_number_without_an_inbound_agent_rejects_the_call(api: Any, local_stack: Any) -> None:
    number = api.get("/v1/numbers/pn_new").json()["number"]
    sid = local_stack.carrier.ring(number, unique_e164())
    record = local_stack.carrier.wait_for_call(sid, {"busy", "no-answer", "failed", "canceled", "completed"},
                                               timeout=30)
    assert "in-progress" not in record.statuses
    assert api.get("/v1/calls?direction=inbound").json()["data"] == []


def test_hanging_up_a_live_call_through_the_api(api: Any, local_stack: Any) -> None:
    agent = _outbound_agent(api, first_message="Hi, this is the clinic.")
    call_id = _place(api, agent, HUMAN)
    _wait(api, call_id, lambda c: c["status"] == "in_progress")
    ended = api.post(f"/v1/calls/{call_id}/hangup")
    assert ended.status_code == 200, ended.text
    call = _wait(api, call_id, lambda c: c["status"] in TERMINAL)
    assert (call["status"], call["end_reason"]) == ("completed", "api_hangup")
    local_stack.carrier.wait_for_call(call["carrier_sid"], "completed", timeout=15)
