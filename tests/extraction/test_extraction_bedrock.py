"""The Bedrock adapter through the real botocore code path (a real client, ``Stubber`` at the wire's
edge), answers shaped like Bedrock's ``converse`` response, and the worker's retry and failure rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import botocore.session
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from callingbox.core.extraction.base import CallFacts
from callingbox.core.extraction.bedrock import BedrockExtractor
from callingbox.core.extraction.exceptions import ExtractorError, ExtractorOutputError, ExtractorUnavailable
from callingbox.core.extraction.factory import ExtractorFactory
from callingbox.core.extraction.types import ExtractionJob
from callingbox.core.extraction.worker import LAST_DELIVERY, ExtractionWorker
from callingbox.core.returns_schema import to_json_schema
from callingbox.core.settings import Settings
from callingbox.core.store import calls as call_store
from tests.extraction.helpers import Emitted, ended_call

MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
RETURNS = {"confirmed": "boolean", "reschedule_to": "date", "outcome": ["booked", "declined"]}
TRANSCRIPT = [
    ("agent", "Hi, this is the clinic calling about your appointment on Monday. Does that still work?"),
    ("caller", "Actually no. Could we move it? Friday the 27th would be better."),
    ("agent", "Friday the 27th at the same time. Shall I book that?"),
    ("caller", "yes, that works, go ahead and book it"),
]
RESPONSE = json.loads((Path(__file__).parents[1] / "events" / "bedrock_converse_tool_use.json").read_text())


def converse_response(result: Any, evidence: Any = None, *, tool: str = "record_call_result") -> dict[str, Any]:
    response = copy.deepcopy(RESPONSE)
    block = response["output"]["message"]["content"][0]["toolUse"]
    block["name"] = tool
    block["input"] = {"result": result, "evidence": evidence if evidence is not None else {}}
    return response


class StubbedBedrock:
    """A real ``bedrock-runtime`` client with a Stubber, recording every request it was sent."""

    def __init__(self) -> None:
        self.client = botocore.session.get_session().create_client(
            "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        self.stubber = Stubber(self.client)
        self.requests: list[dict[str, Any]] = []
        self.client.meta.events.register("provide-client-params.bedrock-runtime.Converse", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(copy.deepcopy(params))

    def answer(self, response: dict[str, Any]) -> None:
        self.stubber.add_response("converse", response)

    def fail(self, code: str, status: int) -> None:
        self.stubber.add_client_error("converse", service_error_code=code, service_message=f"{code} (test)",
                                      http_status_code=status)

    def user_text(self, index: int) -> str:
        return str(self.requests[index]["messages"][0]["content"][0]["text"])


@pytest.fixture
def bedrock() -> Iterator[StubbedBedrock]:
    stub = StubbedBedrock()
    with stub.stubber:
        yield stub
    stub.stubber.assert_no_pending_responses()


def _segments() -> list[dict[str, Any]]:
    return [{"party": p, "text": t, "start_ms": 0, "end_ms": 0, "interrupted": False} for p, t in TRANSCRIPT]


# -- the adapter alone ------------------------------------------------------------------------------

def test_one_forced_tool_whose_input_schema_holds_the_returns_schema(bedrock: StubbedBedrock) -> None:
    # GIVEN Bedrock answering with a toolUse block
    bedrock.answer(RESPONSE)
    schema = to_json_schema(RETURNS)
    # WHEN extracting
    raw = BedrockExtractor(MODEL_ID, client_factory=lambda: bedrock.client).extract(
        schema, _segments(), facts=CallFacts(instructions="Confirm the appointment."))
    # THEN the request forced our single tool, whose input schema nests the returns schema unchanged
    request = bedrock.requests[0]
    assert request["modelId"] == MODEL_ID
    tools = request["toolConfig"]["tools"]
    assert len(tools) == 1 and request["toolConfig"]["toolChoice"] == {"tool": {"name": "record_call_result"}}
    input_schema = tools[0]["toolSpec"]["inputSchema"]["json"]
    assert input_schema["properties"]["result"] == schema
    assert set(input_schema["properties"]["evidence"]["properties"]) == set(RETURNS)
    assert input_schema["required"] == ["result", "evidence"]
    assert "caller: yes, that works, go ahead and book it" in bedrock.user_text(0)
    # AND the toolUse input came back as values and quotes
    assert raw.values == {"confirmed": True, "reschedule_to": "2026-11-27", "outcome": "booked"}
    assert raw.evidence["outcome"] == "go ahead and book it"


def test_full_schema_definitions_are_hoisted_so_references_resolve(bedrock: StubbedBedrock) -> None:
    bedrock.answer(converse_response({"slot": {"day": "2026-11-27"}}))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "$defs": {"slot": {"type": "object", "properties": {"day": {"type": "string", "format": "date"}}}},
              "properties": {"slot": {"$ref": "#/$defs/slot"}}}
    BedrockExtractor(MODEL_ID, client_factory=lambda: bedrock.client).extract(schema, _segments())
    tool_schema = bedrock.requests[0]["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert tool_schema["$defs"] == schema["$defs"] and "$defs" not in tool_schema["properties"]["result"]
    from jsonschema import Draft202012Validator

    Draft202012Validator(tool_schema).validate({"result": {"slot": {"day": "2026-11-27"}}, "evidence": {}})


@pytest.mark.parametrize(("code", "status", "error"), [
    ("ThrottlingException", 429, ExtractorUnavailable),
    ("ServiceUnavailableException", 503, ExtractorUnavailable),
    ("ModelTimeoutException", 408, ExtractorUnavailable),
    ("AccessDeniedException", 403, ExtractorError),
    ("ValidationException", 400, ExtractorError),
])
def test_errors_are_transient_or_permanent(bedrock: StubbedBedrock, code: str, status: int, error: type) -> None:
    bedrock.fail(code, status)
    with pytest.raises(error) as raised:
        BedrockExtractor(MODEL_ID, client_factory=lambda: bedrock.client).extract(to_json_schema(RETURNS), _segments())
    assert code in str(raised.value)
    if error is ExtractorError:
        assert not isinstance(raised.value, ExtractorUnavailable)


def test_a_reply_without_our_tool_call_is_an_output_error(bedrock: StubbedBedrock) -> None:
    bedrock.answer({"output": {"message": {"role": "assistant", "content": [{"text": "The caller said yes."}]}},
                    "stopReason": "end_turn", "usage": {"inputTokens": 800, "outputTokens": 6, "totalTokens": 806},
                    "metrics": {"latencyMs": 400}})
    with pytest.raises(ExtractorOutputError):
        BedrockExtractor(MODEL_ID, client_factory=lambda: bedrock.client).extract(to_json_schema(RETURNS), _segments())


# -- through the worker, on the local stack --------------------------------------------------------

@pytest.fixture
def worker(local_stack: Any, bedrock: StubbedBedrock) -> tuple[ExtractionWorker, Emitted]:
    settings = Settings.from_env(local_stack.environment)
    emitted = Emitted()
    factory = ExtractorFactory(settings, bedrock_client=lambda: bedrock.client)
    return ExtractionWorker(settings, extractors=factory, on_processed=emitted), emitted


def _bedrock_call(api: Any, workspace: Any) -> str:
    return ended_call(api, workspace, returns=RETURNS, segments=TRANSCRIPT, llm_model=f"bedrock:{MODEL_ID}")


def test_an_invalid_answer_is_retried_with_the_error_and_the_valid_one_is_stored(
        api: Any, workspace: Any, bedrock: StubbedBedrock, worker: tuple[ExtractionWorker, Emitted]) -> None:
    # GIVEN a model that first says "yes" for a boolean and a non-date, then answers correctly
    call_id = _bedrock_call(api, workspace)
    bedrock.answer(converse_response({"confirmed": "yes", "reschedule_to": "Friday the 27th", "outcome": "booked"}))
    bedrock.answer(converse_response({"confirmed": True, "reschedule_to": "2026-11-27", "outcome": "booked"},
                                     {"confirmed": "yes, that works", "reschedule_to": "Friday the 27th",
                                      "outcome": "I'd like to book"}))
    run, emitted = worker
    # WHEN the job runs
    outcome = run.process(ExtractionJob(workspace.id, call_id))
    # THEN the second request showed the model what was wrong with the first
    assert len(bedrock.requests) == 2
    assert "refused" not in bedrock.user_text(0)
    retry = bedrock.user_text(1)
    assert 'confirmed: "yes" is not of type boolean' in retry
    assert "reschedule_to" in retry and "not a real date" in retry
    # AND the stored result is typed exactly as declared, with verified quotes only
    call = api.get(f"/v1/calls/{call_id}").json()
    assert outcome == {"outcome": "extracted", "status": "succeeded"}
    assert call["result"] == {"confirmed": True, "reschedule_to": "2026-11-27", "outcome": "booked"}
    assert call["extraction"]["status"] == "succeeded" and call["extraction"]["error"] is None
    assert call["extraction"]["model"] == f"bedrock:{MODEL_ID}"
    # "I'd like to book" is not in the transcript: that quote is dropped, the others kept verbatim
    assert call["extraction"]["evidence"] == {"confirmed": "yes, that works", "reschedule_to": "Friday the 27th"}
    assert emitted.types_for(call_id) == ["call.completed"]
    assert emitted.events[-1][2]["result"] == call["result"]


def test_invalid_twice_nulls_the_failing_fields_and_says_why(
        api: Any, workspace: Any, bedrock: StubbedBedrock, worker: tuple[ExtractionWorker, Emitted]) -> None:
    call_id = _bedrock_call(api, workspace)
    for _ in range(2):
        bedrock.answer(converse_response({"confirmed": True, "reschedule_to": "2025-02-30", "outcome": "maybe"},
                                         {"confirmed": "yes, that works"}))
    run, emitted = worker
    assert run.process(ExtractionJob(workspace.id, call_id)) == {"outcome": "extracted", "status": "partial"}
    call = api.get(f"/v1/calls/{call_id}").json()
    assert call["result"] == {"confirmed": True, "reschedule_to": None, "outcome": None}
    assert call["extraction"]["status"] == "partial"
    assert "reschedule_to" in call["extraction"]["error"] and "outcome" in call["extraction"]["error"]
    assert "confirmed" not in call["extraction"]["error"]
    assert call["extraction"]["evidence"] == {"confirmed": "yes, that works"}
    assert emitted.types_for(call_id) == ["call.completed"]


def test_nothing_usable_twice_fails_the_extraction_and_reports_it(
        api: Any, workspace: Any, bedrock: StubbedBedrock, worker: tuple[ExtractionWorker, Emitted]) -> None:
    call_id = _bedrock_call(api, workspace)
    bedrock.answer({"output": {"message": {"role": "assistant", "content": [{"text": "Sure!"}]}},
                    "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                    "metrics": {"latencyMs": 1}})
    bedrock.answer(converse_response("not an object"))
    run, emitted = worker
    assert run.process(ExtractionJob(workspace.id, call_id))["status"] == "failed"
    call = api.get(f"/v1/calls/{call_id}").json()
    assert call["result"] == {"confirmed": None, "reschedule_to": None, "outcome": None}
    assert call["extraction"]["error"].startswith("the answer was unusable after a retry")
    assert "result is not valid JSON" in call["extraction"]["error"]
    # call.completed still fires for an answered call, after call.extraction_failed
    assert emitted.types_for(call_id) == ["call.extraction_failed", "call.completed"]


def test_an_unavailable_model_is_retried_by_sqs_then_fails_on_the_last_delivery(
        api: Any, workspace: Any, bedrock: StubbedBedrock, worker: tuple[ExtractionWorker, Emitted]) -> None:
    call_id = _bedrock_call(api, workspace)
    run, emitted = worker
    bedrock.fail("ThrottlingException", 429)
    with pytest.raises(ExtractorUnavailable):
        run.process(ExtractionJob(workspace.id, call_id, receive_count=1))
    assert call_store.get_call(workspace.id, call_id).doc["extraction"] is None and not emitted.events
    bedrock.fail("ThrottlingException", 429)
    outcome = run.process(ExtractionJob(workspace.id, call_id, receive_count=LAST_DELIVERY))
    assert outcome["status"] == "failed"
    call = api.get(f"/v1/calls/{call_id}").json()
    assert "unavailable" in call["extraction"]["error"] and "ThrottlingException" in call["extraction"]["error"]
    assert emitted.types_for(call_id) == ["call.extraction_failed", "call.completed"]
