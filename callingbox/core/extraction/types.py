"""The extraction job (the SQS message body) and what processing one returned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Optional

__all__ = ["ExtractionJob", "JobOutcome", "INITIAL_JOB_ID", "REEXTRACT", "DONE_STATUSES"]

INITIAL_JOB_ID = "initial"
"""The job id of the post-call job the voice gateway queues (its body carries no ``job_id``)."""
REEXTRACT = "reextract"
DONE_STATUSES = frozenset({"succeeded", "partial", "failed", "skipped"})
"""``extraction.status`` values that mean the job that set them is finished."""

JobOutcome = Literal["extracted", "already_done", "superseded", "not_answered", "missing"]


@dataclass(frozen=True)
class ExtractionJob:
    """One message of the extraction queue: ``{"workspace_id", "call_id"}`` from the voice gateway, plus
    ``"reason": "reextract"`` and a fresh ``"job_id"`` from ``POST /v1/calls/{id}/extract``.

    ``receive_count`` is SQS's ``ApproximateReceiveCount`` (not part of the body): on the last
    delivery a model that is still unavailable fails the extraction instead of retrying.
    """

    workspace_id: str
    call_id: str
    job_id: str = INITIAL_JOB_ID
    reason: Optional[str] = None
    receive_count: int = 1

    @classmethod
    def from_body(cls, body: Any, *, receive_count: int = 1) -> "ExtractionJob":
        """Parse a message body.

        Raises:
            ValueError: not an object with string ``workspace_id`` and ``call_id``.
        """
        if not isinstance(body, Mapping):
            raise ValueError("an extraction job must be a JSON object")
        for name in ("workspace_id", "call_id"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise ValueError(f"an extraction job needs a string {name}")
        job_id = body.get("job_id") or INITIAL_JOB_ID
        reason = body.get("reason")
        if not isinstance(job_id, str) or (reason is not None and not isinstance(reason, str)):
            raise ValueError("job_id and reason must be strings")
        return cls(str(body["workspace_id"]), str(body["call_id"]), job_id, reason, max(1, int(receive_count)))

    def to_body(self) -> dict[str, Any]:
        """The message body (``receive_count`` is SQS's to count, not ours to send)."""
        body: dict[str, Any] = {"workspace_id": self.workspace_id, "call_id": self.call_id}
        if self.job_id != INITIAL_JOB_ID:
            body["job_id"] = self.job_id
        if self.reason:
            body["reason"] = self.reason
        return body
