"""Calls: dispatch parameters and the call record (seeds 000, 001, 002)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from ._base import RequestModel, ResponseModel
from .shared import E164, Metadata, ResourceId

__all__ = [
    "Call",
    "CallCreateParams",
    "CallStatus",
    "AnsweredBy",
    "Direction",
    "Extraction",
    "ExtractionStatus",
    "ResultHistoryEntry",
    "TranscriptSearchResult",
    "TranscriptSegment",
    "TurnLatency",
]

CallStatus = Literal["queued", "ringing", "in_progress", "completed", "no_answer", "busy", "failed", "canceled"]
AnsweredBy = Literal["human", "machine", "unknown"]
Direction = Literal["inbound", "outbound"]
ExtractionStatus = Literal["pending", "succeeded", "partial", "failed", "skipped"]
"""``pending``: queued; ``succeeded``: every field passed validation; ``partial``: some fields
failed validation twice and are null; ``failed``: nothing usable (all fields null, see ``error``);
``skipped``: the agent declares no ``returns``, so there was nothing to extract."""


class Extraction(ResponseModel):
    """How the structured ``result`` was obtained from the transcript."""

    status: ExtractionStatus = "pending"
    error: Optional[str] = None
    evidence: dict[str, Optional[str]] = Field(default_factory=dict)
    """Per filled field, the transcript quote its value came from (literally in the transcript)."""
    model: Optional[str] = None
    """The engine that extracted (``builtin``, ``openai:<model>`` or a Bedrock model id)."""
    returns: Optional[dict[str, Any]] = None
    """Set by a re-extraction: the agent's ``returns`` it read against (else ``agent_snapshot.returns``)."""
    job_id: Optional[str] = None
    """The extraction run that produced this result (each ``POST /extract`` starts a new one)."""
    extracted_at: Optional[int] = None


class ResultHistoryEntry(ResponseModel):
    """A result replaced by a re-extraction (``POST /v1/calls/{id}/extract``), oldest first."""

    result: Optional[dict[str, Any]] = None
    extraction: Optional[Extraction] = None
    extracted_at: Optional[int] = None


class TranscriptSegment(ResponseModel):
    """One stretch of speech by one party."""

    party: Literal["agent", "caller"]
    text: str
    start_ms: int
    end_ms: int
    interrupted: bool = False


class TurnLatency(ResponseModel):
    """Where one turn's time went, in milliseconds from the caller's end of speech."""

    turn: int
    end_of_speech_ms: Optional[float] = None
    stt_final_ms: Optional[float] = None
    llm_first_token_ms: Optional[float] = None
    tts_first_byte_ms: Optional[float] = None
    first_audio_ms: Optional[float] = None


class Call(ResponseModel):
    """A call record. ``status`` only ever moves forward; ``result`` is null until extracted."""

    id: str
    object: Literal["call"] = "call"
    agent_id: str
    direction: Direction
    from_number: Optional[str] = None
    to_number: str
    status: CallStatus
    answered_by: Optional[AnsweredBy] = None
    end_reason: Optional[str] = None
    started_at: Optional[int] = None
    answered_at: Optional[int] = None
    ended_at: Optional[int] = None
    duration_seconds: Optional[int] = None
    billable_seconds: int = 0
    result: Optional[dict[str, Any]] = None
    extraction: Optional[Extraction] = None
    result_history: list[ResultHistoryEntry] = Field(default_factory=list)
    transcript_url: Optional[str] = None
    transcript: Optional[list[TranscriptSegment]] = None
    recording_url: Optional[str] = None
    latency: list[TurnLatency] = Field(default_factory=list)
    instructions: Optional[str] = None
    webhook_url: Optional[str] = None
    metadata: dict[str, str] = Field(default_factory=dict)
    context: Optional[dict[str, Any]] = None
    agent_snapshot: Optional[dict[str, Any]] = None
    created: int
    updated: int


class CallCreateParams(RequestModel):
    """Body of ``POST /v1/calls``: the agent, the destination and the only per-call overrides."""

    agent_id: ResourceId
    to: E164
    instructions: Optional[str] = Field(default=None, max_length=20_000)
    from_number: Optional[str] = Field(default=None, min_length=1, max_length=64)
    context: Optional[dict[str, Any]] = None
    webhook_url: Optional[str] = Field(default=None, max_length=2_048)
    metadata: Metadata = Field(default_factory=dict)


class TranscriptSearchResult(ResponseModel):
    """A call whose transcript contains every word of the query, with the segments that matched."""

    object: Literal["transcript_search_result"] = "transcript_search_result"
    call_id: str
    agent_id: Optional[str] = None
    number_id: Optional[str] = None
    created: int
    matches: list[TranscriptSegment] = Field(default_factory=list)
    """The call's segments holding at least one of the query's words, in speaking order."""
