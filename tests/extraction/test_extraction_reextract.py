"""POST /v1/calls/{id}/extract over real HTTP: who may re-extract, history kept, the job queued and run."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from callingbox.core.extraction.worker import ExtractionWorker
from callingbox.core.settings import Settings
from tests.extraction.helpers import Emitted, dialogue_transcript, ended_call, lambda_context, sqs_event
from tests.support import new_workspace

pytestmark = pytest.mark.integration

RETURNS = {"confirmed": "boolean", "outcome": ["booked", "declined"]}


@pytest.fixture
def handler(local_stack: Any) -> Iterator[tuple[Any, Emitted]]:
    import workers.extraction as module

    settings = Settings.from_env(local_stack.environment)
    emitted = Emitted()
    worker = ExtractionWorker(settings, on_processed=emitted)
    module.install(module.ExtractionRuntime.from_settings(settings, worker=worker))
    yield module.handler, emitted
    module.install(None)


def _queued_jobs(local_stack: Any, call_id: str) -> list[dict[str, Any]]:
    """The extraction queue's messages for ``call_id`` (received, so invisible to others for a while)."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=local_stack.aws.endpoint_url, region_name="us-east-1")
    url = local_stack.environment["CALLINGBOX_EXTRACTION_QUEUE_URL"]
    found: list[dict[str, Any]] = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           AttributeNames=["All"]).get("Messages", []):
            if json.loads(message["Body"]).get("call_id") == call_id:
                found.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if found:
            break
    return found


def _as_record(message: dict[str, Any]) -> dict[str, Any]:
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message["Attributes"], "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:callingbox-extraction",
            "awsRegion": "us-east-1"}


def _extracted_call(api: Any, workspace: Any, handler: Any) -> tuple[str, dict[str, Any]]:
    import datetime as dt

    answered_at = 1_795_300_000
    agent = api.post("/v1/agents", json={"name": "Re", "type": "outbound", "number_ids": ["pn_abc123"],
                                         "returns": RETURNS}).json()
    segments = dialogue_transcript({**RETURNS, "party_size": "integer"}, ["yes", "booked", "three", "yes"],
                                   today=dt.datetime.fromtimestamp(answered_at).date())
    call_id = ended_call(api, workspace, agent=agent, segments=segments, answered_at=answered_at)
    run, _ = handler
    run(sqs_event(_record_for(workspace.id, call_id)), lambda_context())
    return call_id, agent


def _record_for(workspace_id: str, call_id: str) -> dict[str, Any]:
    from tests.extraction.helpers import sqs_record

    return sqs_record({"workspace_id": workspace_id, "call_id": call_id})


def test_reextraction_reads_the_agents_current_returns_and_keeps_the_previous_result(
        api: Any, workspace: Any, local_stack: Any, handler: tuple[Any, Emitted]) -> None:
    run, emitted = handler
    call_id, agent = _extracted_call(api, workspace, handler)
    before = api.get(f"/v1/calls/{call_id}").json()
    assert before["result"] == {"confirmed": True, "outcome": "booked"}
    # GIVEN the agent now also wants party_size
    patched = api.patch(f"/v1/agents/{agent['id']}", json={"returns": {**RETURNS, "party_size": "integer"}})
    assert patched.status_code == 200, patched.text
    # WHEN re-extraction is requested
    response = api.post(f"/v1/calls/{call_id}/extract")
    assert response.status_code == 200, response.text
    pending = response.json()
    # THEN the call is pending, the old result is in history, and a job is queued for it
    assert pending["result"] is None and pending["extraction"]["status"] == "pending"
    assert pending["result_history"] == [{"result": before["result"], "extraction": before["extraction"],
                                          "extracted_at": before["extraction"]["extracted_at"]}]
    jobs = _queued_jobs(local_stack, call_id)
    assert [json.loads(m["Body"]) for m in jobs] == [{"workspace_id": workspace.id, "call_id": call_id,
                                                      "job_id": pending["extraction"]["job_id"], "reason": "reextract"}]
    # WHEN the worker runs the job THEN the new schema is filled and history is kept
    assert run(sqs_event(_as_record(jobs[0])), lambda_context()) == {"batchItemFailures": []}
    after = api.get(f"/v1/calls/{call_id}").json()
    assert after["result"] == {"confirmed": True, "outcome": "booked", "party_size": 3}
    assert after["extraction"]["status"] == "succeeded"
    assert after["extraction"]["job_id"] == pending["extraction"]["job_id"]
    assert after["extraction"]["returns"] == {**RETURNS, "party_size": "integer"}
    assert after["result_history"] == pending["result_history"]
    assert emitted.types_for(call_id) == ["call.completed", "call.completed"]
    # AND the initial job, delivered late, changes nothing
    run(sqs_event(_record_for(workspace.id, call_id)), lambda_context())
    assert api.get(f"/v1/calls/{call_id}").json() == after


def test_a_second_request_supersedes_the_first_and_history_holds_only_finished_results(
        api: Any, workspace: Any, local_stack: Any, handler: tuple[Any, Emitted]) -> None:
    run, _ = handler
    call_id, _ = _extracted_call(api, workspace, handler)
    first = api.post(f"/v1/calls/{call_id}/extract").json()
    second = api.post(f"/v1/calls/{call_id}/extract").json()
    assert len(second["result_history"]) == 1  # the pending first run was not a result
    jobs = {json.loads(m["Body"])["job_id"]: m for m in _queued_jobs(local_stack, call_id)}
    if len(jobs) < 2:
        jobs |= {json.loads(m["Body"])["job_id"]: m for m in _queued_jobs(local_stack, call_id)}
    assert set(jobs) == {first["extraction"]["job_id"], second["extraction"]["job_id"]}
    run(sqs_event(_as_record(jobs[first["extraction"]["job_id"]])), lambda_context())
    assert api.get(f"/v1/calls/{call_id}").json()["extraction"]["status"] == "pending"  # superseded: no-op
    run(sqs_event(_as_record(jobs[second["extraction"]["job_id"]])), lambda_context())
    done = api.get(f"/v1/calls/{call_id}").json()
    assert done["extraction"]["job_id"] == second["extraction"]["job_id"]
    assert done["extraction"]["status"] == "succeeded"


@pytest.mark.parametrize("outcome", ["voicemail", "unanswered", "queued"])
def test_only_completed_answered_calls_can_be_reextracted(api: Any, workspace: Any, outcome: str) -> None:
    if outcome == "queued":
        agent = api.post("/v1/agents", json={"name": "Q", "type": "outbound", "number_ids": ["pn_abc123"]}).json()
        call_id = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550123"}).json()["id"]
    else:
        call_id = ended_call(api, workspace, returns=RETURNS, outcome=outcome)
    response = api.post(f"/v1/calls/{call_id}/extract")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("call_not_extractable", "call_id")
    assert response.headers["X-Should-Retry"] == "false"


def test_another_workspaces_call_is_not_found(api: Any, workspace: Any, local_stack: Any) -> None:
    call_id = ended_call(api, workspace, returns=RETURNS)
    other = new_workspace(local_stack.api_url)
    with other.http() as client:
        response = client.post(f"/v1/calls/{call_id}/extract")
    assert response.status_code == 404


def test_a_queue_failure_leaves_the_call_as_it_was(api: Any, workspace: Any, handler: tuple[Any, Emitted]) -> None:
    from callingbox.core.errors import ServiceUnavailable
    from callingbox.core.extraction.reextract import request_extraction
    from callingbox.core.scope import Scope

    call_id, _ = _extracted_call(api, workspace, handler)
    before = api.get(f"/v1/calls/{call_id}").json()

    class DownQueues:
        def send(self, queue: str, body: Any, *, delay_seconds: int = 0) -> str:
            raise ConnectionError("sqs unreachable")

    with pytest.raises(ServiceUnavailable):
        request_extraction(Scope(workspace.id, Settings.from_env()), call_id, queues=DownQueues())  # type: ignore[arg-type]
    after = api.get(f"/v1/calls/{call_id}").json()
    assert {k: after[k] for k in ("result", "extraction", "result_history")} == {
        "result": before["result"], "extraction": before["extraction"], "result_history": []}
