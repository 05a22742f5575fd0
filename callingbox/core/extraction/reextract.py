"""``POST /v1/calls/{id}/extract``: run extraction again (after the agent's ``returns`` changed, say),
keeping what the call had in ``result_history``.

The request makes a new extraction job current on the call (``extraction: {"status": "pending",
"job_id": <new>}``), moving a finished result into ``result_history``, and only then queues the job;
if queueing fails the call is put back as it was. The job's worker run is keyed on that job id, so
re-extracting twice gives two runs, while each run still happens once; a job superseded by a
newer request does nothing.

The point of re-extracting is usually a changed agent, so the new run reads the transcript against
the agent's **current** ``returns`` and ``llm_model`` (taken when the request is made and stored
in ``extraction.returns`` / ``extraction.model``); ``agent_snapshot`` keeps the config the call ran
with. The agent of a call is never deleted (only archived), but should it be missing, the
snapshot's values are used.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from ..errors import ApiError, Conflict, ServiceUnavailable
from ..queues import JobQueues
from ..scope import Scope
from ..store import agents as agent_store
from ..store import calls as call_store
from .factory import model_of
from .types import REEXTRACT, ExtractionJob
from .worker import current_job_id, is_extractable, is_finished

__all__ = ["request_extraction", "MAX_RESULT_HISTORY"]

MAX_RESULT_HISTORY = 20  # older results drop off: a call item must stay well under DynamoDB's 400 KB


def _refusal(doc: dict[str, Any]) -> Conflict:
    reason = f"this one is {doc.get('status')}"
    if doc.get("status") == "completed":
        reason = "this one was answered by a machine"
    return Conflict(f"only a completed call answered by a person has a result to extract; {reason}",
                    code="call_not_extractable", param="call_id", permanent=True)


def _current_config(scope: Scope, doc: dict[str, Any]) -> tuple[Optional[dict[str, Any]], str]:
    """The agent's current ``returns`` and model (the snapshot's if the agent cannot be read)."""
    from ..errors import NotFound

    snapshot = doc.get("agent_snapshot") or {}
    try:
        agent = agent_store.get_agent(scope.workspace_id, doc["agent_id"]).doc
    except NotFound:
        agent = snapshot
    model = model_of({"agent_snapshot": agent}, scope.settings)
    return agent.get("returns"), model


def request_extraction(scope: Scope, call_id: str, *, queues: JobQueues) -> dict[str, Any]:
    """Start a new extraction of the call and return the call (``extraction.status: pending``).

    Raises:
        NotFound: no such call in the workspace.
        Conflict: ``call_not_extractable`` unless the call completed and a person answered.
        ServiceUnavailable: the job could not be queued (the call is left as it was).
    """
    ws = scope.workspace_id
    doc = call_store.get_call(ws, call_id).doc
    if not is_extractable(doc):
        raise _refusal(doc)
    job = ExtractionJob(ws, call_id, job_id=f"xj_{uuid.uuid4().hex}", reason=REEXTRACT)
    returns, model = _current_config(scope, doc)
    before: dict[str, Any] = {}

    def start(current: dict[str, Any]) -> Optional[dict[str, Any]]:
        if not is_extractable(current):
            return None
        before.clear()
        before.update(result=current.get("result"), extraction=current.get("extraction"),
                      result_history=current.get("result_history") or [])
        history = list(current.get("result_history") or [])
        if is_finished(current):
            extraction = current["extraction"]
            history.append({"result": current.get("result"), "extraction": extraction,
                            "extracted_at": extraction.get("extracted_at")})
        current["result_history"] = history[-MAX_RESULT_HISTORY:]
        current["result"] = None
        current["extraction"] = {"status": "pending", "error": None, "evidence": {}, "model": model,
                                 "returns": returns, "job_id": job.job_id, "extracted_at": None}
        return current

    written = call_store.update_call(ws, call_id, start)
    if not written.changed:
        raise _refusal(written.doc)
    try:
        queues.send("extraction", job.to_body())
    except Exception as error:
        _undo(ws, call_id, job.job_id, before)
        if isinstance(error, ApiError):
            raise
        raise ServiceUnavailable("the extraction could not be queued; retry the request",
                                 code="extraction_queue_unavailable") from error
    return written.doc


def _undo(workspace_id: str, call_id: str, job_id: str, before: dict[str, Any]) -> None:
    """Put the call back as it was before a job that was never queued (unless someone moved on)."""

    def restore(current: dict[str, Any]) -> Optional[dict[str, Any]]:
        if current_job_id(current) != job_id or is_finished(current):
            return None
        current.update(before)
        return current

    call_store.update_call(workspace_id, call_id, restore)
