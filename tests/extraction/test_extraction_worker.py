"""The extraction worker Lambda on the local stack: Powertools batch + idempotency over SQS-shaped
events, the builtin extractor on real dialogue transcripts, and which calls get no extraction."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Callable, Iterator

import pytest

from callingbox.core.extraction.builtin import BuiltinExtractor
from callingbox.core.settings import Settings
from callingbox.core.store import calls as call_store
from tests.extraction.helpers import (
    CountingExtractor,
    Emitted,
    dialogue_transcript,
    ended_call,
    lambda_context,
    sqs_event,
    sqs_record,
)

pytestmark = pytest.mark.integration

RETURNS = {"confirmed": "boolean", "reschedule_to": "date", "outcome": ["booked", "declined"]}
ANSWERED_AT = 1_795_300_000  # 2026-11-19 (a Thursday) in any time zone near UTC


def _call_day() -> dt.date:
    return dt.datetime.fromtimestamp(ANSWERED_AT).date()


@pytest.fixture
def lambda_worker(local_stack: Any) -> Iterator[tuple[Callable[..., Any], CountingExtractor, Emitted]]:
    """The Lambda module with a runtime whose extractor is counted and whose events are recorded."""
    import workers.extraction as module

    from callingbox.core.extraction.worker import ExtractionWorker

    settings = Settings.from_env(local_stack.environment)
    counting = CountingExtractor(BuiltinExtractor())
    emitted = Emitted()
    worker = ExtractionWorker(settings, extractors=lambda model: counting, on_processed=emitted)
    module.install(module.ExtractionRuntime.from_settings(settings, worker=worker))
    yield module.handler, counting, emitted
    module.install(None)


def _builtin_call(api: Any, workspace: Any, answers: list[str], **kwargs: Any) -> tuple[str, list[tuple[str, str]]]:
    segments = dialogue_transcript(RETURNS, answers, today=_call_day())
    return ended_call(api, workspace, returns=RETURNS, segments=segments, answered_at=ANSWERED_AT, **kwargs), segments


def test_a_completed_call_gets_its_typed_result_and_one_call_completed(
        api: Any, workspace: Any, lambda_worker: Any) -> None:
    handler, counting, emitted = lambda_worker
    call_id, segments = _builtin_call(api, workspace, ["yes", "next monday", "booked", "yes"])
    # WHEN the gateway's job {"workspace_id", "call_id"} arrives
    response = handler(sqs_event(sqs_record({"workspace_id": workspace.id, "call_id": call_id})), lambda_context())
    # THEN nothing failed, the result is typed as declared, with quotes from the transcript
    assert response == {"batchItemFailures": []}
    call = api.get(f"/v1/calls/{call_id}").json()
    assert call["result"] == {"confirmed": True, "reschedule_to": "2026-11-23", "outcome": "booked"}
    assert call["extraction"]["status"] == "succeeded" and call["extraction"]["model"] == "builtin"
    assert call["extraction"]["job_id"] == "initial"
    caller_lines = {text for party, text in segments if party == "caller"}
    assert call["extraction"]["evidence"] == {"confirmed": "yes", "reschedule_to": "next monday", "outcome": "booked"}
    assert set(call["extraction"]["evidence"].values()) <= caller_lines
    assert emitted.types_for(call_id) == ["call.completed"] and len(counting.calls) == 1


def test_a_redelivered_job_runs_once(api: Any, workspace: Any, lambda_worker: Any) -> None:
    handler, counting, emitted = lambda_worker
    call_id, _ = _builtin_call(api, workspace, ["yes", "tomorrow", "declined", "yes"])
    body = {"workspace_id": workspace.id, "call_id": call_id}
    handler(sqs_event(sqs_record(body)), lambda_context())
    first = call_store.get_call(workspace.id, call_id)
    # WHEN SQS delivers the same job again (a new message id and a higher receive count)
    response = handler(sqs_event(sqs_record(body, receive_count=2)), lambda_context())
    # THEN it succeeds without asking the model again, writing, or reporting the call twice
    assert response == {"batchItemFailures": []}
    assert len(counting.calls) == 1 and emitted.types_for(call_id) == ["call.completed"]
    again = call_store.get_call(workspace.id, call_id)
    assert again.version == first.version and again.raw == first.raw


def test_a_crash_after_the_write_reports_on_retry_without_a_second_answer(
        api: Any, workspace: Any, local_stack: Any) -> None:
    import workers.extraction as module

    from callingbox.core.extraction.worker import ExtractionWorker

    call_id, _ = _builtin_call(api, workspace, ["no", "friday", "declined", "yes"])
    settings = Settings.from_env(local_stack.environment)
    counting, reported, failures = CountingExtractor(BuiltinExtractor()), [], [RuntimeError("event bus down")]

    def flaky(workspace_id: str, doc: dict[str, Any], event_type: str) -> None:
        if failures:
            raise failures.pop()
        reported.append((event_type, doc["result"]))

    module.install(module.ExtractionRuntime.from_settings(
        settings, worker=ExtractionWorker(settings, extractors=lambda model: counting, on_processed=flaky)))
    try:
        record = sqs_record({"workspace_id": workspace.id, "call_id": call_id})
        # GIVEN the result was written but reporting failed: the record goes back to SQS (a batch
        # whose every record failed is raised whole, as Powertools does)
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        with pytest.raises(BatchProcessingError):
            module.handler(sqs_event(record), lambda_context())
        stored = call_store.get_call(workspace.id, call_id)
        assert stored.doc["result"]["confirmed"] is False
        # WHEN it is redelivered THEN the call is reported, the stored answer untouched, the model not asked again
        assert module.handler(sqs_event(sqs_record(json.loads(record["body"]), receive_count=2)), lambda_context()) == {
            "batchItemFailures": []}
        assert reported == [("call.completed", stored.doc["result"])]
        assert len(counting.calls) == 1 and call_store.get_call(workspace.id, call_id).version == stored.version
    finally:
        module.install(None)


@pytest.mark.parametrize("outcome", ["voicemail", "unanswered"])
def test_voicemail_and_unanswered_calls_get_no_extraction_and_no_call_completed(
        api: Any, workspace: Any, lambda_worker: Any, outcome: str) -> None:
    handler, counting, emitted = lambda_worker
    message = [("agent", "Hi, this is the clinic. Please call us back about Monday.")]
    segments = message if outcome == "voicemail" else []
    call_id = ended_call(api, workspace, returns=RETURNS, outcome=outcome, segments=segments)
    response = handler(sqs_event(sqs_record({"workspace_id": workspace.id, "call_id": call_id})), lambda_context())
    assert response == {"batchItemFailures": []}
    call = api.get(f"/v1/calls/{call_id}").json()
    assert call["status"] == "no_answer" and call["result"] is None and call["extraction"] is None
    assert counting.calls == [] and emitted.types_for(call_id) == []


def test_an_agent_without_returns_still_completes_with_a_null_result(
        api: Any, workspace: Any, lambda_worker: Any) -> None:
    handler, counting, emitted = lambda_worker
    call_id = ended_call(api, workspace, segments=[("agent", "Hello!"), ("caller", "hi")])
    handler(sqs_event(sqs_record({"workspace_id": workspace.id, "call_id": call_id})), lambda_context())
    call = api.get(f"/v1/calls/{call_id}").json()
    assert call["result"] is None and call["extraction"]["status"] == "skipped"
    assert emitted.types_for(call_id) == ["call.completed"] and counting.calls == []


def test_only_the_bad_record_of_a_batch_goes_back_to_the_queue(
        api: Any, workspace: Any, lambda_worker: Any) -> None:
    handler, _, emitted = lambda_worker
    call_id, _ = _builtin_call(api, workspace, ["yes", "today", "booked", "yes"])
    good = sqs_record({"workspace_id": workspace.id, "call_id": call_id})
    not_json = sqs_record("{not json")
    no_call = sqs_record({"workspace_id": workspace.id})
    response = handler(sqs_event(not_json, good, no_call), lambda_context())
    assert sorted(item["itemIdentifier"] for item in response["batchItemFailures"]) == sorted(
        [not_json["messageId"], no_call["messageId"]])
    assert emitted.types_for(call_id) == ["call.completed"]


def test_the_local_stack_poller_feeds_the_handler_from_the_real_queue(
        api: Any, workspace: Any, local_stack: Any) -> None:
    import boto3
    import workers.extraction as module

    from callingbox.core.extraction.worker import ExtractionWorker
    from callingbox.local.extraction_worker import start_extraction_worker

    settings = Settings.from_env(local_stack.environment)
    emitted = Emitted()
    runtime = module.ExtractionRuntime.from_settings(settings, worker=ExtractionWorker(settings, on_processed=emitted))
    poller = start_extraction_worker(local_stack.environment, runtime=runtime)
    try:
        call_id, _ = _builtin_call(api, workspace, ["yes", "tomorrow", "booked", "yes"])
        sqs = boto3.client("sqs", endpoint_url=settings.aws_endpoint_url, region_name=settings.region)
        queue = settings.queue_urls["extraction"]
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"workspace_id": workspace.id, "call_id": call_id}))
        for _ in range(100):
            if emitted.types_for(call_id):
                break
            time.sleep(0.1)
        assert poller.batches >= 1 and emitted.types_for(call_id) == ["call.completed"]
        assert api.get(f"/v1/calls/{call_id}").json()["result"]["outcome"] == "booked"
    finally:
        poller.stop()
        module.install(None)
