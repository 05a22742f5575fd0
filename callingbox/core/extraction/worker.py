"""Post-call processing of one call: index its transcript for search, extract its result, write it
once, and report the call as processed.

For each job (see :class:`~.types.ExtractionJob`)::

    read call + transcript ─► index the transcript words (every call with a transcript)
      ├─ not completed, or answered by a machine ──────────► nothing more (no result, no event)
      ├─ job is not the call's current one ────────────────► nothing (a newer re-extraction owns it)
      ├─ current job already finished ─────────────────────► re-report it (events dedupe by key)
      └─ extract: attempt ─► strict validation ─► invalid? attempt again with the errors as feedback
                  ─► still invalid: those fields null ─► conditional write ─► on_processed(...)

The write is conditional (the call's version, via :func:`~callingbox.core.store.calls.update_call`)
and re-checks under it that the job is still current and unfinished, so a redelivered or
concurrent copy of a job can never store a second, different answer. ``on_processed`` is called
with ``call.extraction_failed`` (only when extraction failed) and then always ``call.completed``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Mapping, Optional, Sequence

from .. import resources
from ..clock import now_s
from ..errors import NotFound
from ..observability import get_logger
from ..returns_schema import to_json_schema
from ..settings import Settings
from ..store import calls as call_store
from ..store import transcripts
from .base import CallFacts, Extractor, RawExtraction
from .exceptions import ExtractorError, ExtractorOutputError, ExtractorUnavailable
from .factory import ExtractorFactory, model_of
from .types import DONE_STATUSES, INITIAL_JOB_ID, REEXTRACT, ExtractionJob
from .validation import (
    Problem,
    check_result,
    declared_fields,
    describe_problems,
    failed_fields,
    null_failed,
    select_declared,
    verified_evidence,
)

__all__ = [
    "ExtractionWorker",
    "OnProcessed",
    "emit_through_events_module",
    "current_job_id",
    "is_finished",
    "is_extractable",
    "CALL_COMPLETED",
    "CALL_EXTRACTION_FAILED",
]

CALL_COMPLETED = "call.completed"
CALL_EXTRACTION_FAILED = "call.extraction_failed"
MAX_ERROR_CHARS = 2_000  # extraction.error stays readable and the call item small
MAX_PREVIOUS_ANSWER_CHARS = 4_000  # how much of the refused answer the retry shows the model
# On this delivery of a job an engine that is still unavailable fails the extraction instead of
# waiting for another redelivery (which would be the last before the dead-letter queue).
LAST_DELIVERY = resources.QUEUES["extraction"].max_receive_count

OnProcessed = Callable[[str, dict[str, Any], str], None]
"""``on_processed(workspace_id, call_doc, event_type)``: the call is processed (event_type is
``call.completed`` or ``call.extraction_failed``)."""


def emit_through_events_module(settings: Settings) -> OnProcessed:
    """The default ``on_processed``: ``callingbox.core.events.emit_call_event`` with a dedupe key
    per (event, call, extraction job), so a job re-reported after a crash emits each event once.

    If that module is not part of this build, the event is logged and skipped.
    """

    def emit(workspace_id: str, call_doc: dict[str, Any], event_type: str) -> None:
        try:
            from callingbox.core.events import emit_call_event  # type: ignore[import-not-found,unused-ignore]
        except ImportError as error:
            if error.name not in ("callingbox.core.events",):
                raise  # the module is there but broken: do not lose events silently
            get_logger("extraction").warning("no events module in this build; event not emitted",
                                             extra={"event_type": event_type, "call_id": call_doc.get("id")})
            return
        dedupe_key = f"{event_type}:{call_doc['id']}:{current_job_id(call_doc)}"
        emit_call_event(settings, workspace_id, event_type, call_doc, dedupe_key=dedupe_key)

    return emit


def current_job_id(doc: Mapping[str, Any]) -> str:
    """The id of the extraction job that owns the call's result now."""
    extraction = doc.get("extraction")
    if isinstance(extraction, Mapping) and extraction.get("job_id"):
        return str(extraction["job_id"])
    return INITIAL_JOB_ID


def is_finished(doc: Mapping[str, Any]) -> bool:
    """True when the call's current extraction job has written its result."""
    extraction = doc.get("extraction")
    return isinstance(extraction, Mapping) and extraction.get("status") in DONE_STATUSES


def is_extractable(doc: Mapping[str, Any]) -> bool:
    """A call has a result to extract only if it completed and a person answered (seed 002)."""
    return doc.get("status") == "completed" and doc.get("answered_by") != "machine"


def call_facts(doc: Mapping[str, Any]) -> CallFacts:
    """The call's date (answered, else started, else created; in this process's time zone) and task."""
    stamp = doc.get("answered_at") or doc.get("started_at") or doc.get("created")
    day = dt.datetime.fromtimestamp(int(stamp)).date() if stamp else None
    snapshot = doc.get("agent_snapshot") or {}
    return CallFacts(call_date=day, instructions=doc.get("instructions") or snapshot.get("instructions"),
                     language=snapshot.get("language"))


def _config(doc: Mapping[str, Any], settings: Settings) -> tuple[str, Optional[dict[str, Any]]]:
    """The model and ``returns`` to extract with: those a re-extraction request recorded on the
    pending ``extraction``, else the ones the call ran with (its snapshot)."""
    pending = doc.get("extraction") if isinstance(doc.get("extraction"), Mapping) else {}
    model = pending.get("model") or model_of(doc, settings)
    if "returns" in pending:
        return model, pending.get("returns")
    return model, (doc.get("agent_snapshot") or {}).get("returns")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class ExtractionWorker:
    """Processes extraction jobs (see the module docstring).

    Parameters
    ----------
    settings:
        The deployment (default model, region for Bedrock).
    extractors:
        ``model name -> Extractor`` (default :class:`~.factory.ExtractorFactory` of ``settings``).
    on_processed:
        Called once the call is processed (default :func:`emit_through_events_module`).
    index_transcripts:
        Write the transcript search index (default True).
    """

    def __init__(self, settings: Settings, *, extractors: Optional[Callable[[str], Extractor]] = None,
                 on_processed: Optional[OnProcessed] = None, index_transcripts: bool = True) -> None:
        self.settings = settings
        self._extractors = extractors or ExtractorFactory(settings)
        self._on_processed = on_processed or emit_through_events_module(settings)
        self._index = index_transcripts
        self._log = get_logger("extraction")

    def process(self, job: ExtractionJob) -> dict[str, Any]:
        """Process one job; returns a JSON summary ``{"outcome", "status"?}``.

        Raises:
            ExtractorUnavailable: the model could not answer and this is not the job's last
                delivery (let SQS deliver it again).
        """
        self._log.append_keys(call_id=job.call_id, workspace_id=job.workspace_id, job_id=job.job_id)
        try:
            doc = call_store.get_call(job.workspace_id, job.call_id).doc
        except NotFound:
            self._log.warning("extraction job for a call that does not exist; dropped")
            return {"outcome": "missing"}
        segments = transcripts.list_segments(job.workspace_id, job.call_id)
        if self._index and segments and job.reason != REEXTRACT:
            from ..transcript_search import index_call

            index_call(job.workspace_id, doc, segments)
        if not is_extractable(doc):
            self._log.info("call not answered by a person; no extraction",
                           extra={"status": doc.get("status"), "answered_by": doc.get("answered_by")})
            return {"outcome": "not_answered"}
        if current_job_id(doc) != job.job_id:
            return {"outcome": "superseded"}
        if is_finished(doc):
            self._report(job.workspace_id, doc)  # a crash after the write may have lost the events
            return {"outcome": "already_done", "status": doc["extraction"]["status"]}
        result, extraction = self._extract(doc, segments, job)

        def change(current: dict[str, Any]) -> Optional[dict[str, Any]]:
            if current_job_id(current) != job.job_id or is_finished(current):
                return None
            current["result"] = result
            current["extraction"] = extraction
            return current

        written = call_store.update_call(job.workspace_id, job.call_id, change)
        if not written.changed:
            return {"outcome": "already_done"}  # a concurrent copy of this job wrote (and reports) first
        self._log.info("call extracted", extra={"status": extraction["status"], "model": extraction["model"]})
        self._report(job.workspace_id, written.doc)
        return {"outcome": "extracted", "status": extraction["status"]}

    def _report(self, workspace_id: str, doc: dict[str, Any]) -> None:
        if (doc.get("extraction") or {}).get("status") == "failed":
            self._on_processed(workspace_id, doc, CALL_EXTRACTION_FAILED)
        self._on_processed(workspace_id, doc, CALL_COMPLETED)

    def _extract(self, doc: dict[str, Any], segments: list[dict[str, Any]], job: ExtractionJob
                 ) -> tuple[Optional[dict[str, Any]], dict[str, Any]]:
        """The result and the ``extraction`` object to store."""
        model, returns = _config(doc, self.settings)
        extraction: dict[str, Any] = {"status": "succeeded", "error": None, "evidence": {}, "model": model,
                                      "job_id": job.job_id, "extracted_at": now_s()}
        if "returns" in (doc.get("extraction") or {}):
            extraction["returns"] = returns  # a re-extraction says which schema it read against
        if not returns:
            return None, {**extraction, "status": "skipped"}
        schema = to_json_schema(returns)
        nothing = {name: None for name in declared_fields(schema)}
        try:
            extractor = self._extractors(model)
            result, evidence, problems = self._attempts(extractor, schema, segments, call_facts(doc))
        except ExtractorUnavailable as error:
            if job.receive_count < LAST_DELIVERY:
                raise
            return nothing, {**extraction, "status": "failed",
                             "error": _clip(f"the model was unavailable on every delivery of the job: {error}")}
        except ExtractorError as error:
            return nothing, {**extraction, "status": "failed", "error": _clip(str(error))}
        if problems:
            failed = failed_fields(schema, problems)
            status = "failed" if failed >= set(declared_fields(schema)) else "partial"
            lead = ("the answer was unusable after a retry; every field is null:" if status == "failed"
                    else "the answer was invalid after a retry; the fields it concerns are null:")
            extraction.update(status=status, error=_clip(f"{lead}\n{describe_problems(problems)}"))
        extraction["evidence"] = evidence
        return result, extraction

    def _attempts(self, extractor: Extractor, schema: dict[str, Any], segments: list[dict[str, Any]],
                  facts: CallFacts) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
        """Ask, validate, and ask once more with the errors if needed: (result, evidence, problems left)."""
        first, problems = self._attempt(extractor, schema, segments, facts, feedback=None)
        chosen = first
        if problems:
            self._log.info("invalid answer; retrying with feedback", extra={"problems": [str(p) for p in problems]})
            second, retried = self._attempt(extractor, schema, segments, facts,
                                            feedback=_feedback(problems, first))
            if second is not None or first is None:
                chosen, problems = second, retried
        values = select_declared(schema, chosen.values) if chosen is not None else {}
        result = null_failed(schema, values, problems) if problems else values
        evidence = verified_evidence(chosen.evidence if chosen else {}, result, segments)
        return result, evidence, problems

    @staticmethod
    def _attempt(extractor: Extractor, schema: dict[str, Any], segments: Sequence[Any], facts: CallFacts, *,
                 feedback: Optional[str]) -> tuple[Optional[RawExtraction], list[Problem]]:
        try:
            raw = extractor.extract(schema, list(segments), feedback=feedback, facts=facts)
        except ExtractorOutputError as error:
            return None, [Problem(None, str(error))]
        return raw, check_result(schema, select_declared(schema, raw.values))


def _feedback(problems: Sequence[Problem], previous: Optional[RawExtraction]) -> str:
    """What the retry tells the model: each problem, and the answer that had them."""
    text = describe_problems(problems)
    if previous is not None:
        answer = json.dumps(previous.values, default=str)
        if len(answer) > MAX_PREVIOUS_ANSWER_CHARS:
            answer = answer[: MAX_PREVIOUS_ANSWER_CHARS - 1] + "…"
        text += f"\nYour previous result was: {answer}"
    return text
